/** The controller API's answers and errors. */
import { SluiceError } from '../common/errors.js';
import type { Json } from './views.js';

/** An answer: status and JSON body (none for 204). */
export interface Reply {
  /** HTTP status. */
  status: number;
  /** JSON body; undefined for an empty response. */
  body?: Json;
}

/** An error the API answers with `{"message": …}`. */
export class ApiError extends SluiceError {
  constructor(
    /** HTTP status. */
    readonly status: number,
    message: string,
  ) {
    super('SLUICE_API_ERROR', message);
  }
}

/** 404 for an unknown resource. */
export const notFound = (): ApiError => new ApiError(404, 'Resource not found');
/** 400 for a body that is not what the endpoint takes. */
export const bodyInvalid = (): ApiError => new ApiError(400, 'Body invalid');
/** 204. */
export const noContent: Reply = { status: 204 };

/** A JSON object body (empty: `{}`); anything else is Body invalid. */
export function parseJson(body: string | undefined): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(body || '{}');
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // Falls through to the error.
  }
  throw bodyInvalid();
}

