/** One delay test. */
export interface DelayRecord {
  /** When it ran. */
  readonly time: Date;
  /** Milliseconds; 0 when the test failed. */
  readonly delay: number;
}

/** What has been measured for one proxy or group. */
export interface DelayState {
  /** The last tests, oldest first (at most 10). */
  readonly history: readonly DelayRecord[];
  /** The last tests per test URL. */
  readonly byUrl: ReadonlyMap<string, readonly DelayRecord[]>;
}

const keep = 10;
const empty: DelayState = { history: [], byUrl: new Map() };

/** Every delay test's result (group health checks and the controller's delay endpoints), per outbound name. */
export class DelayHistory {
  private readonly states = new Map<string, { history: DelayRecord[]; byUrl: Map<string, DelayRecord[]> }>();

  /** Records a test of `name` against `url`. */
  record(name: string, url: string, delay: number): void {
    let state = this.states.get(name);
    if (!state) this.states.set(name, (state = { history: [], byUrl: new Map() }));
    const entry = { time: new Date(), delay };
    push(state.history, entry);
    let list = state.byUrl.get(url);
    if (!list) state.byUrl.set(url, (list = []));
    push(list, entry);
  }

  /** What is known about `name`. */
  of(name: string): DelayState {
    return this.states.get(name) ?? empty;
  }
}

function push(list: DelayRecord[], entry: DelayRecord): void {
  list.push(entry);
  if (list.length > keep) list.shift();
}
