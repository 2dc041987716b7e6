// The baseline of the bench's activation figure: what VS Code itself spends to load and activate an extension.
module.exports.activate = function activate() {
  return {};
};
