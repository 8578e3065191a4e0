/** nix-store --dump / --restore. */
import { UsageError } from "../../../internal/errors.ts";
import { dumpToStdout, restoreFromStdin } from "../../nar.ts";
import { type NixStoreInvocation, checkFlags } from "./operations.ts";

function onePath(invocation: NixStoreInvocation): string {
  checkFlags(invocation, []);
  if (invocation.operands.length !== 1) throw new UsageError(`'${invocation.operation}' takes exactly one path, got ${invocation.operands.length}`);
  return invocation.operands[0]!;
}

export function dump(invocation: NixStoreInvocation): void {
  dumpToStdout(onePath(invocation), invocation.caseHack);
}

export async function restore(invocation: NixStoreInvocation): Promise<void> {
  await restoreFromStdin(onePath(invocation), invocation.caseHack);
}
