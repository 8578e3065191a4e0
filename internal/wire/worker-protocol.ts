/** Numbers of the Nix 2.8 worker protocol (worker-protocol.md 3-6). */

export const WORKER_MAGIC_1 = 0x6e697863;
export const WORKER_MAGIC_2 = 0x6478696f;
/** 1.34, what Nix 2.8 speaks. */
export const PROTOCOL_VERSION = 0x122;
/** The oldest client a 2.8 daemon serves (1.10). */
export const OLDEST_CLIENT_VERSION = 0x10a;
/** Sent to clients of minor >= 33 as the daemon's version. */
export const NIX_VERSION = "2.8.0";

export const majorOf = (version: number): number => version & 0xff00;
export const minorOf = (version: number): number => version & 0x00ff;

export const Stderr = {
  next: 0x6f6c6d67,
  read: 0x64617461,
  write: 0x64617416,
  last: 0x616c7473,
  error: 0x63787470,
  startActivity: 0x53545254,
  stopActivity: 0x53544f50,
  result: 0x52534c54,
} as const;

/** Operation codes, with the names Nix uses in its messages. */
export const Op = {
  IsValidPath: 1,
  HasSubstitutes: 3,
  QueryPathHash: 4,
  QueryReferences: 5,
  QueryReferrers: 6,
  AddToStore: 7,
  AddTextToStore: 8,
  BuildPaths: 9,
  EnsurePath: 10,
  AddTempRoot: 11,
  AddIndirectRoot: 12,
  SyncWithGC: 13,
  FindRoots: 14,
  ExportPath: 16,
  QueryDeriver: 18,
  SetOptions: 19,
  CollectGarbage: 20,
  QuerySubstitutablePathInfo: 21,
  QueryDerivationOutputs: 22,
  QueryAllValidPaths: 23,
  QueryPathInfo: 26,
  ImportPaths: 27,
  QueryDerivationOutputNames: 28,
  QueryPathFromHashPart: 29,
  QuerySubstitutablePathInfos: 30,
  QueryValidPaths: 31,
  QuerySubstitutablePaths: 32,
  QueryValidDerivers: 33,
  OptimiseStore: 34,
  VerifyStore: 35,
  BuildDerivation: 36,
  AddSignatures: 37,
  NarFromPath: 38,
  AddToStoreNar: 39,
  QueryMissing: 40,
  QueryDerivationOutputMap: 41,
  RegisterDrvOutput: 42,
  QueryRealisation: 43,
  AddMultipleToStore: 44,
  AddBuildLog: 45,
  BuildPathsWithResults: 46,
} as const;

export type OpName = keyof typeof Op;

const opNames = new Map<number, OpName>(Object.entries(Op).map(([name, code]) => [code, name as OpName]));

export function opName(code: number): OpName | undefined {
  return opNames.get(code);
}

/** Verbosity levels (5.6). */
export const Verbosity = { error: 0, warn: 1, notice: 2, info: 3, talkative: 4, chatty: 5, debug: 6, vomit: 7 } as const;

/** Activity types (5.4). */
export const ActivityType = {
  unknown: 0,
  copyPath: 100,
  fileTransfer: 101,
  realise: 102,
  copyPaths: 103,
  builds: 104,
  build: 105,
  optimiseStore: 106,
  verifyPaths: 107,
  substitute: 108,
  queryPathInfo: 109,
  postBuildHook: 110,
  buildWaiting: 111,
} as const;

/** Result types (5.4). */
export const ResultType = {
  fileLinked: 100,
  buildLogLine: 101,
  untrustedPath: 102,
  corruptedPath: 103,
  setPhase: 104,
  progress: 105,
  setExpected: 106,
  postBuildLogLine: 107,
} as const;

/** BuildResult status codes (2.13). */
export const BuildStatus = {
  Built: 0,
  Substituted: 1,
  AlreadyValid: 2,
  PermanentFailure: 3,
  InputRejected: 4,
  OutputRejected: 5,
  TransientFailure: 6,
  CachedFailure: 7,
  TimedOut: 8,
  MiscFailure: 9,
  DependencyFailed: 10,
  LogLimitExceeded: 11,
  NotDeterministic: 12,
  ResolvesToAlreadyValid: 13,
  NoSubstituters: 14,
} as const;

export type BuildStatusCode = (typeof BuildStatus)[keyof typeof BuildStatus];

export function isSuccess(status: number): boolean {
  return status === BuildStatus.Built || status === BuildStatus.Substituted || status === BuildStatus.AlreadyValid || status === BuildStatus.ResolvesToAlreadyValid;
}

/** A field of an activity or result: a number or a string. */
export type LogField = number | bigint | string;
