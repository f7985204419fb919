export { FlagError, FlagErrorCode, Rejected, reject, type FlagSpec, type FlagType, type ListType, type ScalarType, type Uncovered } from './spec.js';
export { LIST_SEPARATORS, SEMICOLON, bool, count, custom, int, list, listOf, ms, oneOf, text } from './types.js';
export { FlagSet, type Env, type FlagSetOptions, type Parsed } from './flag-set.js';
export { README_HEADER, readmeFlagProblems, readmeFlagRows, type ReadmeRow } from './readme.js';
