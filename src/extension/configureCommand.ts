// "Configure…": reads the plugin's /config_schema, lets the user edit flat settings with quick
// inputs (nested schemas are edited in settings.json), checks them against the schema, saves them
// per plugin in the user's settings and applies them with initialize. The registry applies the
// saved values whenever the worker starts.
import * as vscode from 'vscode';
import type { PluginRegistry } from '../core/registry';
import { checkValues, flatFields, parseInput, type Field } from '../core/configSchema';
import type { PluginErrors } from './pluginErrors';
import type { PluginPick } from './pluginPick';
import { SECTION, savePluginConfig, savedPluginConfig } from './settings';
import { requireTrust } from './workspaceTrust';

const SAVE = '$(check) Save and Apply';

export class ConfigureCommand {
  constructor(
    private readonly registry: PluginRegistry,
    private readonly pick: PluginPick,
    private readonly errors: PluginErrors,
  ) {}

  /** `values` lets a caller (another extension, a test) configure without the quick inputs. */
  async run(argument: unknown, values?: Record<string, unknown>): Promise<boolean> {
    if (!requireTrust('configure a plugin')) return false;
    const name = await this.pick.choose(argument, 'Plugin to configure', (plugin) => plugin.state !== 'broken');
    if (!name) return false;
    try {
      const schema = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Reading ${name}'s settings…` },
        () => this.registry.configSchema(name),
      );
      const fields = flatFields(schema);
      if (fields === undefined) return this.offerSettingsJson(name);
      if (fields.length === 0) {
        void vscode.window.showInformationMessage(`${name} has no settings to configure.`);
        return false;
      }
      const chosen = values ?? (await this.edit(name, fields, await this.currentValues(name, fields)));
      if (!chosen) return false;
      const problems = checkValues(fields, chosen);
      if (problems.length > 0) {
        void vscode.window.showErrorMessage(`${name}: settings not saved. ${problems.join(' ')}`);
        return false;
      }
      // Applied first: a configuration the plugin rejects is not saved (it would be rejected at every start).
      await this.registry.initialize(name, chosen);
      await savePluginConfig(name, chosen);
      void vscode.window.setStatusBarMessage(`${name}: settings saved and applied.`, 3000);
      return true;
    } catch (error) {
      this.errors.report(name, error);
      return false;
    }
  }

  private async currentValues(name: string, fields: Field[]): Promise<Record<string, unknown>> {
    const saved = savedPluginConfig(name);
    const live = saved ?? (await this.registry.config(name));
    const values: Record<string, unknown> = {};
    for (const field of fields) {
      const value = live[field.key] ?? field.schema.default;
      if (value !== undefined) values[field.key] = value;
    }
    return values;
  }

  /** A list of the fields with their values; picking one edits it; "Save and Apply" ends. */
  private async edit(name: string, fields: Field[], values: Record<string, unknown>): Promise<Record<string, unknown> | undefined> {
    for (;;) {
      const items: vscode.QuickPickItem[] = [
        { label: SAVE, description: 'check the values, save them in your settings and apply them' },
        ...fields.map((field) => ({
          label: field.key,
          description: values[field.key] === undefined ? '(not set)' : JSON.stringify(values[field.key]),
          detail: field.schema.description ?? field.schema.title,
        })),
      ];
      // Values changed so far live in this loop until Save: looking elsewhere must not throw them away.
      const picked = await vscode.window.showQuickPick(items, { title: `Configure ${name}`, placeHolder: 'Pick a setting to change', ignoreFocusOut: true });
      if (!picked) return undefined;
      if (picked.label === SAVE) return values;
      const field = fields.find((candidate) => candidate.key === picked.label);
      if (!field) continue;
      const value = await editField(field, values[field.key]);
      if (value !== undefined) values[field.key] = value;
    }
  }

  private async offerSettingsJson(name: string): Promise<boolean> {
    const choice = await vscode.window.showInformationMessage(
      `${name} has nested settings. Edit them in your settings.json under "${SECTION}.pluginConfig" → "${name}"; they are applied when the plugin starts.`,
      'Open Settings (JSON)',
    );
    if (choice) await vscode.commands.executeCommand('workbench.action.openSettingsJson');
    return false;
  }
}

async function editField(field: Field, current: unknown): Promise<unknown> {
  const options = Array.isArray(field.schema.enum) ? field.schema.enum : field.schema.type === 'boolean' ? [true, false] : undefined;
  if (options) {
    const picked = await vscode.window.showQuickPick(
      options.map((option) => ({ label: JSON.stringify(option), picked: option === current, option })),
      { title: field.key, placeHolder: field.schema.description, ignoreFocusOut: true },
    );
    return picked?.option;
  }
  const text = await vscode.window.showInputBox({
    title: field.key,
    ignoreFocusOut: true,
    prompt: field.schema.description,
    value: current === undefined ? '' : String(current),
    validateInput: (input) => {
      const parsed = parseInput(field, input);
      return 'error' in parsed ? parsed.error : undefined;
    },
  });
  if (text === undefined) return undefined;
  const parsed = parseInput(field, text);
  return 'value' in parsed ? parsed.value : undefined;
}
