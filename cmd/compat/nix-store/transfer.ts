/**
 * nix-store --export, --import, --dump-db, --load-db, --register-validity
 * and --check-validity, with Nix 2.8's flags, messages and output.
 */
import { UsageError } from "../../../internal/errors.ts";
import { InvalidPathError } from "../../../internal/store/errors.ts";
import { invalidPaths } from "../../../internal/store/dump-db.ts";
import { importPaths as importStream } from "../../../internal/store/import.ts";
import { loadDb as loadText, registerValidity as registerText } from "../../../internal/store/load-db.ts";
import type { LocalStore } from "../../../internal/store/local-store.ts";
import { out } from "../../cli.ts";
import { openStore } from "../../store-options.ts";
import { storePathArgument } from "../../store/arguments.ts";
import { exportToStdout, printDumpDb, readStdinText, stdinStream } from "../../store/transfer.ts";
import { type NixStoreInvocation, checkFlags, storeFlagsOf } from "./operations.ts";

function withStore<T>(invocation: NixStoreInvocation, mode: "read" | "write", action: (store: LocalStore) => T): T {
  const store = openStore(storeFlagsOf(invocation), mode);
  try {
    return action(store);
  } finally {
    store.close();
  }
}

function noArguments(invocation: NixStoreInvocation): void {
  if (invocation.operands.length > 0) throw new UsageError("no arguments expected");
}

export function exportPaths(invocation: NixStoreInvocation): void {
  checkFlags(invocation, []);
  withStore(invocation, "read", (store) =>
    exportToStdout(
      store,
      invocation.operands.map((a) => storePathArgument(store, a)),
    ),
  );
}

/** As Nix does, the imported paths are printed once the whole stream is in. */
export async function importPaths(invocation: NixStoreInvocation): Promise<void> {
  checkFlags(invocation, []);
  noArguments(invocation);
  const source = stdinStream("an export stream");
  const store = openStore(storeFlagsOf(invocation), "write");
  try {
    const paths = await importStream(store, source);
    out(paths.map((p) => `${store.print(p)}\n`).join(""));
  } finally {
    store.close();
  }
}

export function dumpDb(invocation: NixStoreInvocation): void {
  checkFlags(invocation, []);
  withStore(invocation, "read", (store) =>
    printDumpDb(store, invocation.operands.length === 0 ? undefined : invocation.operands.map((a) => storePathArgument(store, a))),
  );
}

export function loadDb(invocation: NixStoreInvocation): void {
  checkFlags(invocation, []);
  noArguments(invocation);
  const text = readStdinText("a --dump-db text");
  withStore(invocation, "write", (store) => loadText(store, text));
}

export function registerValidity(invocation: NixStoreInvocation): void {
  checkFlags(invocation, ["--reregister", "--hash-given"]);
  noArguments(invocation);
  const text = readStdinText("a registration text");
  const reregister = invocation.flags.includes("--reregister");
  const hashGiven = invocation.flags.includes("--hash-given");
  withStore(invocation, "write", (store) => registerText(store, text, { reregister, hashGiven, canonicalise: true }));
}

export function checkValidity(invocation: NixStoreInvocation): void {
  checkFlags(invocation, ["--print-invalid"]);
  const printInvalid = invocation.flags.includes("--print-invalid");
  withStore(invocation, "read", (store) => {
    for (const path of invalidPaths(
      store,
      invocation.operands.map((a) => storePathArgument(store, a)),
    )) {
      if (!printInvalid) throw new InvalidPathError(store.print(path));
      out(`${store.print(path)}\n`);
    }
  });
}
