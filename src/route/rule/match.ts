import { BaseRule } from './base.js';

/** MATCH (and its old alias FINAL): matches every flow. */
export class MatchRule extends BaseRule {
  match(): boolean {
    return true;
  }
}

/** Host-only rule types (PROCESS-NAME, UID…) and rules whose data is missing: parsed so rule files load, never matching here. */
export class NeverRule extends BaseRule {
  constructor(
    type: string,
    payload: string,
    target: string,
    /** Why it never matches, for the loader's warning. */
    readonly reason = `${type} rules never match in sluice`,
  ) {
    super(type, payload, target);
  }

  match(): boolean {
    return false;
  }
}
