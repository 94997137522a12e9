/**
 * A guard for the yaml library on untrusted text. Its parser slows down with nesting (1 MiB of
 * `[(` took 18 s), very deep block nesting (`- - - …`, 128k levels) ran it out of memory and
 * killed the process, and every syntax error costs it an Error (1 MiB of `]` took 11 s; parse
 * `withoutStackTraces`). The lexer is linear and safe, so nesting is measured on its tokens
 * first: flow collections (`[`, `{`), unbalanced closers, and per line, indentation plus block
 * indicators (`-`, `?`, `:`). Real configs and rule files stay far below the limits.
 */
import { Lexer, parseDocument, type Document, type DocumentOptions, type ParseOptions, type SchemaOptions } from 'yaml';
import { withoutStackTraces } from './errors.js';

/** Deepest flow nesting (`[`/`{`) accepted. */
const maxFlowDepth = 64;
/** Largest indentation plus block indicators on one line accepted. */
const maxBlockDepth = 256;

/** Throws an Error naming the line when `text` nests deeper than the limits. */
export function checkYamlNesting(text: string): void {
  let flow = 0;
  let block = 0;
  let line = 1;
  let lineStart = true;
  for (const token of new Lexer().lex(text)) {
    switch (token) {
      case '[':
      case '{':
        if (++flow > maxFlowDepth) throw new Error(`[ ] and { } nest deeper than ${maxFlowDepth} levels at line ${line}`);
        break;
      case ']':
      case '}':
        if (--flow < 0) throw new Error(`unbalanced '${token}' at line ${line}`);
        break;
      case '-':
      case '?':
      case ':':
        if (flow === 0 && ++block > maxBlockDepth) throw new Error(`collections nest deeper than ${maxBlockDepth} levels at line ${line}`);
        break;
      default:
        if (lineStart && token !== '' && token.trim() === '' && !token.includes('\n')) block += token.length;
    }
    lineStart = false;
    for (let at = token.indexOf('\n'); at >= 0; at = token.indexOf('\n', at + 1)) {
      line++;
      block = 0;
      lineStart = true;
    }
  }
}

/**
 * Parses untrusted YAML: the nesting check first (throws), then the yaml library without
 * stack traces, pretty error context or its quadratic duplicate-key check (callers that care
 * about duplicate keys find them themselves). Syntax errors are in `document.errors`.
 */
export function parseGuardedDocument(text: string, options: ParseOptions & DocumentOptions & SchemaOptions = {}): Document {
  checkYamlNesting(text);
  return withoutStackTraces(() => parseDocument(text, { ...options, uniqueKeys: false, prettyErrors: false }));
}
