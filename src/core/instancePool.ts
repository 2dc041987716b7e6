// Up to N instances (workers) of one plugin, fed from one FIFO queue: a call waits in line, gets the
// next idle instance (the most recently used, so that the others can reach their idle time-out), and
// gives it back when done. An extra instance starts only while calls wait and none is idle; starts the
// queue no longer needs are withdrawn; idle instances stop after the idle time-out, each on its own.
// What an instance is, how it starts (admission included) and stops is the owner's business (hooks).
import { CallQueue } from './callQueue';

export interface PoolHooks<W> {
  /**
   * Starts one instance. `first`: none is alive or starting, so the calls cannot go anywhere else.
   * `keep()` makes the start one that is no longer withdrawn when its calls go (only Stop ends it).
   */
  launch(first: boolean, signal: AbortSignal, keep: () => void): Promise<W>;
  /** Stops one instance; resolves when it is gone. */
  shutDown(instance: W): Promise<void>;
  /** False once the instance has died (its exit not yet handled): it is never handed out again. */
  alive(instance: W): boolean;
  maxInstances(): number;
  /** 0 or less: instances stay until stopped. */
  idleTimeoutMs(): number;
  /** Whether a second start may begin before the first finished (false while the memory need is unknown). */
  parallelStarts(): boolean;
  /** The error of a call cancelled while it waited. */
  cancelledError(): Error;
  /** Something visible changed: counts, an instance started, stopped, became busy or idle. */
  changed(): void;
}

interface Member<W> {
  instance: W;
  busy: boolean;
  stopping: boolean;
  lastUsed: number;
  idleTimer?: NodeJS.Timeout;
}

interface Start {
  abort: AbortController;
  /** Started or awaited by any() (an explicit Start, a control request), or kept by the owner: never withdrawn for lack of calls. */
  pinned: boolean;
  /** Settles when the start has succeeded (and the instance joined) or failed. */
  settled?: Promise<void>;
}

export interface PoolCounts {
  live: number;
  busy: number;
  starting: number;
  queued: number;
}

/** After a start failed while other instances serve the queue, the next extra start waits this long. */
const FAILED_START_BACKOFF_MS = 30_000;

export class InstancePool<W> {
  private readonly members: Array<Member<W>> = [];
  private readonly starts = new Set<Start>();
  private readonly queue: CallQueue<W>;
  private readonly startWaiters: Array<{ resolve: (instance: W) => void; reject: (error: Error) => void }> = [];
  private extraStartsBlockedUntil = 0;

  constructor(private readonly hooks: PoolHooks<W>) {
    this.queue = new CallQueue<W>(hooks.cancelledError, () => {
      this.pump(); // a start that only that call needed is withdrawn
      this.hooks.changed();
    });
  }

  counts(): PoolCounts {
    const live = this.members.filter((member) => !member.stopping);
    return {
      live: live.length,
      busy: live.filter((member) => member.busy).length,
      starting: [...this.starts].filter((start) => !start.abort.signal.aborted).length,
      queued: this.queue.length,
    };
  }

  /** The instances that run (not stopping), oldest first. */
  instances(): Array<{ instance: W; busy: boolean; lastUsed: number }> {
    return this.members.filter((member) => !member.stopping).map(({ instance, busy, lastUsed }) => ({ instance, busy, lastUsed }));
  }

  /** Waits in line for an idle instance and takes it; give it back with release(). */
  acquire(signal?: AbortSignal, onPosition?: (position: number, length: number) => void): Promise<W> {
    const waiting = this.queue.wait(signal, onPosition);
    this.pump();
    this.hooks.changed();
    return waiting;
  }

  release(instance: W): void {
    const member = this.memberOf(instance);
    if (!member) return; // it stopped or crashed meanwhile
    member.busy = false;
    member.lastUsed = Date.now();
    this.pump();
    this.hooks.changed();
  }

  /** Any running instance, for a request that does not need it alone (health, schema, Start); starts one if none. */
  any(): Promise<W> {
    const live = this.members.filter((member) => !member.stopping).sort((a, b) => Number(a.busy) - Number(b.busy) || b.lastUsed - a.lastUsed);
    if (live[0]) return Promise.resolve(live[0].instance);
    const started = new Promise<W>((resolve, reject) => this.startWaiters.push({ resolve, reject }));
    const active = [...this.starts].filter((start) => !start.abort.signal.aborted);
    if (active.length === 0) this.startOne(true);
    else for (const start of active) start.pinned = true;
    return started;
  }

  /** The instance ended by itself (a crash): it is forgotten, and waiting calls go to another or a new one. */
  remove(instance: W): void {
    const member = this.memberOf(instance);
    if (!member) return;
    this.forget(member);
    this.pump();
    this.hooks.changed();
  }

  /** Stops one instance (idle eviction, the idle time-out). */
  async stop(instance: W): Promise<void> {
    const member = this.memberOf(instance);
    if (!member || member.stopping) return;
    member.stopping = true;
    clearTimeout(member.idleTimer);
    this.hooks.changed();
    try {
      await this.hooks.shutDown(instance);
    } finally {
      this.forget(member);
      this.pump();
      this.hooks.changed();
    }
  }

  /**
   * Stops every instance and every start. Waiting calls fail with `error`, or, without one, stay in line
   * (a restart) and get a new instance.
   */
  async stopAll(error?: Error): Promise<void> {
    if (error) {
      this.queue.rejectAll(error);
      this.rejectStartWaiters(error);
    }
    const pending = [...this.starts];
    for (const start of pending) start.abort.abort();
    this.hooks.changed();
    // A start that could not be called back in time still delivers its instance: wait, so that it is stopped too.
    await Promise.all(pending.map((start) => start.settled));
    await Promise.all(this.members.map((member) => this.stop(member.instance)));
    this.pump();
  }

  /** Fails every waiting call and every start (the crash budget ran out). */
  failWaiting(error: Error): void {
    this.queue.rejectAll(error);
    this.rejectStartWaiters(error);
    this.hooks.changed();
  }

  /** Idle instances, least recently used first, for eviction by another plugin's admission. */
  idle(): Array<{ instance: W; idleSince: number }> {
    return this.members
      .filter((member) => !member.busy && !member.stopping)
      .sort((a, b) => a.lastUsed - b.lastUsed)
      .map((member) => ({ instance: member.instance, idleSince: member.lastUsed }));
  }

  /** The settings changed (idle time-out, max instances): re-arm timers and start or withdraw as needed. */
  refresh(): void {
    for (const member of this.members) if (!member.busy && !member.stopping) this.armIdleTimer(member);
    this.pump();
  }

  private pump(): void {
    for (const member of this.members.filter((m) => !m.stopping && !this.hooks.alive(m.instance))) this.forget(member);
    // Idle instances to the head of the line, most recently used first.
    while (this.queue.length > 0) {
      const member = this.members.filter((m) => !m.busy && !m.stopping).sort((a, b) => b.lastUsed - a.lastUsed)[0];
      if (!member) break;
      member.busy = true;
      clearTimeout(member.idleTimer);
      member.idleTimer = undefined;
      if (!this.queue.dispatch(member.instance)) member.busy = false;
    }
    this.adjustStarts();
    if (this.queue.length === 0) for (const member of this.members) if (!member.busy && !member.stopping && !member.idleTimer) this.armIdleTimer(member);
  }

  /** Starts what the waiting calls need (within max_instances), withdraws starts they no longer need. */
  private adjustStarts(): void {
    const active = [...this.starts].filter((start) => !start.abort.signal.aborted);
    const forQueue = active.filter((start) => !start.pinned);
    // Withdraw the newest starts beyond the calls that still wait (a withdrawn start waiting for memory never runs).
    for (const start of forQueue.slice(this.queue.length).reverse()) start.abort.abort();
    let wanted = this.queue.length - active.length;
    let starting = active.length;
    const live = this.members.filter((member) => !member.stopping).length;
    while (wanted > 0 && live + starting < this.hooks.maxInstances()) {
      const first = live === 0 && starting === 0;
      if (!first && (Date.now() < this.extraStartsBlockedUntil || (starting > 0 && !this.hooks.parallelStarts()))) break;
      this.startOne(false);
      starting++;
      wanted--;
    }
  }

  private startOne(pinned: boolean): void {
    const first = this.members.every((member) => member.stopping) && ![...this.starts].some((other) => !other.abort.signal.aborted);
    const start: Start = { abort: new AbortController(), pinned };
    const { abort } = start;
    start.settled = this.hooks.launch(first, abort.signal, () => (start.pinned = true)).then(
      (instance) => {
        this.starts.delete(start);
        this.members.push({ instance, busy: false, stopping: false, lastUsed: Date.now() });
        this.extraStartsBlockedUntil = 0;
        for (const waiter of this.startWaiters.splice(0)) waiter.resolve(instance);
        this.pump();
        this.hooks.changed();
      },
      (error: Error) => {
        this.starts.delete(start);
        if (!abort.signal.aborted) this.startFailed(error);
        else if (this.counts().live === 0 && this.counts().starting === 0) this.rejectStartWaiters(error);
        this.pump();
        this.hooks.changed();
      },
    );
    this.starts.add(start);
    this.hooks.changed();
  }

  /** With no other instance to serve them, the waiting calls get the start's error; otherwise they keep waiting. */
  private startFailed(error: Error): void {
    const othersServe = this.members.some((member) => !member.stopping) || [...this.starts].some((start) => !start.abort.signal.aborted);
    if (othersServe) {
      this.extraStartsBlockedUntil = Date.now() + FAILED_START_BACKOFF_MS;
      return;
    }
    this.queue.rejectAll(error);
    this.rejectStartWaiters(error);
  }

  private rejectStartWaiters(error: Error): void {
    for (const waiter of this.startWaiters.splice(0)) waiter.reject(error);
  }

  private armIdleTimer(member: Member<W>): void {
    clearTimeout(member.idleTimer);
    member.idleTimer = undefined;
    const idleMs = this.hooks.idleTimeoutMs();
    if (!(idleMs > 0)) return;
    member.idleTimer = setTimeout(() => {
      member.idleTimer = undefined;
      if (!member.busy && !member.stopping) void this.stop(member.instance);
    }, idleMs);
    member.idleTimer.unref();
  }

  private memberOf(instance: W): Member<W> | undefined {
    return this.members.find((member) => member.instance === instance);
  }

  private forget(member: Member<W>): void {
    clearTimeout(member.idleTimer);
    const index = this.members.indexOf(member);
    if (index >= 0) this.members.splice(index, 1);
  }
}
