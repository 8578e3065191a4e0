/**
 * The operations of the nix-store alias and the modules that implement them.
 * Each handler receives the parsed invocation and validates its own flags.
 */
import { UsageError } from "../../../internal/errors.ts";
import type { StoreFlags } from "../../store-options.ts";

export interface NixStoreInvocation {
  /** The operation flag as given, e.g. "-q" or "--query". */
  operation: string;
  /** Operation flags in order (values of --max-freed & co. follow their flag). */
  flags: string[];
  operands: string[];
  /** --store */
  store: string | undefined;
  /** Global flags given (value or ""), e.g. "--repair", "--add-root". */
  globals: Map<string, string>;
  /** --option use-case-hack true */
  caseHack: boolean;
}

export type Handler = (invocation: NixStoreInvocation) => Promise<number | void> | number | void;

type Loader = () => Promise<Handler>;

const lazy = (load: () => Promise<Record<string, unknown>>, name: string): Loader => async () => (await load())[name] as Handler;

const nar = () => import("./nar.ts");
const add = () => import("./add.ts");
const query = () => import("./query.ts");
const transfer = () => import("./transfer.ts");
const verify = () => import("./verify.ts");
const remove = () => import("./delete.ts");
const realise = () => import("./realise.ts");
const log = () => import("./log.ts");
const gc = () => import("./gc.ts");

export const OPERATIONS: Readonly<Record<string, Loader>> = {
  "--dump": lazy(nar, "dump"),
  "--restore": lazy(nar, "restore"),
  "--add": lazy(add, "add"),
  "-A": lazy(add, "add"),
  "--add-fixed": lazy(add, "addFixed"),
  "--print-fixed-path": lazy(add, "printFixedPath"),
  "--init": lazy(add, "init"),
  "--query": lazy(query, "query"),
  "-q": lazy(query, "query"),
  "--export": lazy(transfer, "exportPaths"),
  "--import": lazy(transfer, "importPaths"),
  "--dump-db": lazy(transfer, "dumpDb"),
  "--load-db": lazy(transfer, "loadDb"),
  "--register-validity": lazy(transfer, "registerValidity"),
  "--check-validity": lazy(transfer, "checkValidity"),
  "--verify": lazy(verify, "verify"),
  "--verify-path": lazy(verify, "verifyPath"),
  "--repair-path": lazy(verify, "repairPath"),
  "--delete": lazy(remove, "deletePaths"),
  "--realise": lazy(realise, "realiseOperation"),
  "-r": lazy(realise, "realiseOperation"),
  "--gc": lazy(gc, "gc"),
  "--optimise": lazy(gc, "optimise"),
  "--optimize": lazy(gc, "optimise"),
  "--serve": notYet("--serve"),
  "--read-log": lazy(log, "readLog"),
  "-l": lazy(log, "readLog"),
  "--print-env": notYet("--print-env"),
  "--generate-binary-cache-key": notYet("--generate-binary-cache-key"),
};

function notYet(operation: string): Loader {
  return async () => () => {
    throw new UsageError(`bunix does not implement 'nix-store ${operation}' yet`);
  };
}

/** The store flags of an invocation, for openStore(). */
export function storeFlagsOf(invocation: NixStoreInvocation): StoreFlags {
  return { store: invocation.store };
}

/** Refuses operation flags the operation does not know, as Nix does ("unknown flag"). */
export function checkFlags(invocation: NixStoreInvocation, known: readonly string[]): void {
  for (const flag of invocation.flags) {
    if (flag.startsWith("-") && !known.includes(flag)) throw new UsageError(`unknown flag '${flag}'`);
  }
}
