import { BaseRule } from './base.js';

/** MATCH (and its old alias FINAL): matches every flow. */
export class MatchRule extends BaseRule {
  match(): boolean {
    return true;
  }
}

/** Host-only rule types (PROCESS-NAME, UID…): parsed so rule files load, never matching here. */
export class NeverRule extends BaseRule {
  match(): boolean {
    return false;
  }
}
