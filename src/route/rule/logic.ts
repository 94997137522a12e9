import type { Flow } from '../../adapter/flow.js';
import type { Rule } from '../../adapter/router.js';
import { BaseRule, excerpt } from './base.js';

/** AND / OR / NOT over sub-rules written `((TYPE,payload),(TYPE,payload))`. */
export class LogicRule extends BaseRule {
  constructor(
    type: 'AND' | 'OR' | 'NOT',
    payload: string,
    target: string,
    private readonly children: readonly Rule[],
  ) {
    if (type === 'NOT' && children.length !== 1) throw new Error(`NOT takes exactly one sub-rule, got ${children.length}`);
    if (children.length === 0) throw new Error(`${type} needs at least one sub-rule`);
    super(type, payload, target);
  }

  override get needsIp(): boolean {
    return this.children.some((c) => c.needsIp);
  }

  match(flow: Readonly<Flow>): boolean {
    switch (this.type) {
      case 'AND':
        return this.children.every((c) => c.match(flow));
      case 'OR':
        return this.children.some((c) => c.match(flow));
      default:
        return !this.children[0]!.match(flow);
    }
  }
}

/**
 * SUB-RULE,(CONDITION),list: when the condition matches, the router walks the named
 * `sub-rules:` list; `match` is the condition only.
 */
export class SubRule extends BaseRule {
  constructor(
    payload: string,
    /** The `sub-rules:` list to walk when the condition matches (the rule's target field). */
    readonly list: string,
    private readonly condition: Rule,
  ) {
    super('SUB-RULE', payload, list);
  }

  override get needsIp(): boolean {
    return this.condition.needsIp;
  }

  match(flow: Readonly<Flow>): boolean {
    return this.condition.match(flow);
  }
}

/**
 * Splits `((A,x),(B,y))` into `['A,x', 'B,y']`: the outer parentheses, then each balanced
 * top-level group. Throws on unbalanced input or text between groups.
 */
export function splitLogicPayload(payload: string): string[] {
  const text = payload.trim();
  if (!text.startsWith('(') || !text.endsWith(')')) throw new Error(`logic payload must be wrapped in parentheses, got ${excerpt(payload)}`);
  const inner = text.slice(1, -1).trim();
  const groups: string[] = [];
  let depth = 0;
  let start = -1;
  for (let i = 0; i < inner.length; i++) {
    const c = inner[i];
    if (c === '(') {
      if (depth === 0) start = i + 1;
      depth++;
    } else if (c === ')') {
      depth--;
      if (depth < 0) throw new Error(`unbalanced ')' in ${excerpt(payload)}`);
      if (depth === 0) groups.push(inner.slice(start, i).trim());
    } else if (depth === 0 && c !== ',' && c !== ' ') {
      throw new Error(`unexpected '${c}' between sub-rules in ${excerpt(payload)}`);
    }
  }
  if (depth !== 0) throw new Error(`unbalanced '(' in ${excerpt(payload)}`);
  return groups;
}
