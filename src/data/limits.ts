/**
 * The data plane's resource budgets (issue 10): how much one call may cost, whoever makes it and
 * whatever protocol carried it (HTTP today, the WebSocket later). The defaults are the documented
 * ones; `src/config` reads the environment and `EngineOptions.limits` carries the result here.
 */

/** Why an answer holds fewer rows than its query produced. */
export type Truncation = 'rows' | 'bytes';

/** How much one answer may carry. */
export interface ResultBudget {
  /** Most rows in one answer. */
  maxRows: number;
  /** Most bytes of rows in one answer, as estimated by `duckdb/result-reader.ts`. */
  maxBytes: number;
}

export interface DataLimits {
  /** The budget of an answer whose caller named none. */
  result: ResultBudget;
  /** Longest SQL text anyone may send, in UTF-8 bytes. */
  maxSqlLength: number;
  /** Guarded (scoped-key) SQL: most nodes in the parse tree. */
  maxSqlNodes: number;
  /** Guarded SQL: most table references (tables, table functions, subqueries, joins). */
  maxSqlTableRefs: number;
  /** Guarded SQL: deepest nesting of the parse tree. */
  maxSqlDepth: number;
  /** Most values in one `In` filter. */
  maxInValues: number;
  /** Most nodes (conditions and And/Or groups) in one filter. */
  maxFilterTerms: number;
  /** Most fields one write may add to a collection. */
  maxNewFieldsPerWrite: number;
  /** Most columns a collection may grow to through writes (`id` included). */
  maxColumnsPerCollection: number;
}

export const DEFAULT_LIMITS: DataLimits = {
  result: { maxRows: 10_000, maxBytes: 32 * 1024 * 1024 },
  maxSqlLength: 100 * 1024,
  maxSqlNodes: 2_000,
  maxSqlTableRefs: 32,
  maxSqlDepth: 1_000,
  maxInValues: 1_000,
  maxFilterTerms: 256,
  maxNewFieldsPerWrite: 64,
  maxColumnsPerCollection: 500,
};

export function dataLimits(overrides: Partial<DataLimits> = {}): DataLimits {
  return { ...DEFAULT_LIMITS, ...overrides, result: { ...DEFAULT_LIMITS.result, ...overrides.result } };
}
