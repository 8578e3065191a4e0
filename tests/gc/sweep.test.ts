// The sweeper's safety nets, driven through the library: a path that another
// process made a reference to after the graph was loaded stays (its rows are
// rolled back, and so does everything it keeps alive), and a path claimed by
// a temporary root after the analysis stays too.
import { expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { analyseStore } from "../../internal/gc/analysis.ts";
import { deadNodes } from "../../internal/gc/liveness.ts";
import { deletionOrder } from "../../internal/gc/scc.ts";
import { GcSession } from "../../internal/gc/session.ts";
import { Sweeper } from "../../internal/gc/sweep.ts";
import { Trash } from "../../internal/gc/trash.ts";
import { Settings } from "../../internal/settings/settings.ts";
import { resolveStoreLocation } from "../../internal/settings/store-location.ts";
import { addText } from "../../internal/store/add.ts";
import { LocalStore } from "../../internal/store/local-store.ts";
import { scratchDir } from "../helpers/tmp.ts";

const text = (s: string) => [new TextEncoder().encode(s)];

test("paths referred to or claimed after the analysis are kept, with what they keep alive", async () => {
  const root = join(scratchDir("sweep"), "root");
  const settings = new Settings();
  settings.set("build-users-group", "");
  const store = LocalStore.open(resolveStoreLocation({ store: root, env: {} }), settings, { mode: "write" });
  try {
    const base = (await addText(store, "base", text("base"), { references: [] })).path;
    const middle = (await addText(store, "middle", text(`middle ${store.print(base)}`), { references: [base] })).path;
    const claimed = (await addText(store, "claimed", text("claimed"), { references: [] })).path;
    const loose = (await addText(store, "loose", text("loose"), { references: [] })).path;
    // Our own temporary roots (addText took them) would keep everything: drop them.
    store.tempRoots.close();

    const session = await GcSession.start(store.stateDir, store.storeDir);
    const trash = new Trash(store.realStoreDir);
    try {
      const keep = { keepOutputs: false, keepDerivations: true };
      const analysis = analyseStore(store, session, keep, () => {});
      const onDisk = new Uint8Array(analysis.graph.count).fill(1);
      const dead = deadNodes(analysis.liveness, onDisk);
      expect(dead.reduce((a, b) => a + b, 0)).toBe(4);

      // Another process registers a path referring to `middle` and claims `claimed`
      // (through the roots server: we hold gc.lock, so we keep answering while it works).
      const lib = (file: string) => JSON.stringify(join(import.meta.dir, "../../internal", file));
      const child = Bun.spawn(["bun", "-e", `
        const { Settings } = await import(${lib("settings/settings.ts")});
        const { LocalStore } = await import(${lib("store/local-store.ts")});
        const { addText } = await import(${lib("store/add.ts")});
        const settings = new Settings();
        settings.set("build-users-group", "");
        const store = LocalStore.open(${JSON.stringify(store.location)}, settings, { mode: "write" });
        const middle = store.parse(${JSON.stringify(store.print(middle))});
        const added = await addText(store, "newcomer", [new TextEncoder().encode("new " + store.print(middle))], { references: [middle] });
        store.tempRoots.add(${JSON.stringify(store.print(claimed))});
        console.log(store.print(added.path));`], { stdout: "pipe", stderr: "inherit" });
      const output = new Response(child.stdout).text();
      let exited = false;
      void child.exited.then(() => (exited = true));
      while (!exited) await session.yieldToClients();
      expect(await child.exited).toBe(0);
      const newcomer = store.parse((await output).trim());

      const sweeper = new Sweeper(store, session, trash, { maxFreed: Infinity, dryRun: false, onDeleted: () => {}, onProgress: () => {} });
      await sweeper.deleteComponents(analysis.live, deletionOrder(analysis.live, dead));
      expect(sweeper.deleted).toEqual([store.print(loose)]);
      expect(sweeper.keptMeanwhile).toBe(3);
      for (const kept of [base, middle, claimed, newcomer]) {
        expect(store.isValid(kept)).toBe(true);
        expect(existsSync(store.realPath(kept))).toBe(true);
      }
      expect(store.isValid(loose) || existsSync(store.realPath(loose))).toBe(false);
    } finally {
      session.close();
      trash.close();
    }
  } finally {
    store.close();
  }
});
