/** Config problems with nothing of the file's own text, for files the controller was asked to load. */
import type { ConfigError } from './errors.js';
import { schemaKeys } from './schema.js';

/**
 * The problems of a ConfigError with nothing of the file's own text: each keeps its path,
 * with every segment that is not a key of the config schema replaced by `*`, and says only
 * that the value there is invalid; YAML errors keep their position. For config files named
 * by the controller's PUT /configs, whose content must not be shown to the caller.
 */
export function redactedProblems(error: ConfigError): string[] {
  const keys = schemaKeys();
  return [...new Set(error.problems.map((problem) => redactProblem(problem, keys)))];
}

function redactProblem(problem: string, keys: ReadonlySet<string>): string {
  if (problem.startsWith('YAML: ')) {
    const position = /at line (\d+), column (\d+)/.exec(problem);
    return `YAML: ${problem.startsWith('YAML: aliases') ? 'aliases expand too far' : 'syntax error'}${position ? ` at line ${position[1]}, column ${position[2]}` : ''}`;
  }
  if (problem.startsWith('cannot read config ')) return 'cannot read the config file';
  const path = problem.slice(0, Math.max(0, problem.indexOf(': ')));
  if (path === '(top level)') return '(top level): is invalid';
  const segments = path.match(/[^.[\]]+|\[\d+\]/g) ?? [];
  const shown = segments.map((segment) => (/^\[\d+\]$/.test(segment) || keys.has(segment) ? segment : '*'));
  return `${shown.join('.').replace(/\.\[/g, '[') || '(config)'}: is invalid`;
}
