/**
 * Child process for tests that need an untrusted peer: run through setpriv
 * as another user, it connects to a daemon and sends requests prepared by
 * the test (raw bytes, op code included), reporting each outcome as JSON.
 *
 * stdin: {"socket": path, "requests": [{"bytes": hex, "reply": "none"|"u64"|"paths", "feed"?: hex}]}
 * stdout: [{"ok": true, "value"?: ...} | {"ok": false, "error": message}]
 */
import { WorkerClient } from "../../internal/daemon/client.ts";

interface Request {
  bytes: string;
  reply: "none" | "u64" | "paths";
  /** Data handed out on STDERR_READ requests. */
  feed?: string;
}

const input = JSON.parse(await Bun.stdin.text()) as { socket: string; requests: Request[] };
const client = await WorkerClient.connect(input.socket);
await client.setOptions();
const results: unknown[] = [];
for (const request of input.requests) {
  const feed = Buffer.from(request.feed ?? "", "hex");
  let offset = 0;
  try {
    client.writer.raw(Buffer.from(request.bytes, "hex"));
    await client.send();
    await client.readStderr(async (count) => {
      const piece = feed.subarray(offset, offset + count);
      offset += piece.length;
      client.writer.bytes(piece);
      await client.send();
    });
    if (request.reply === "u64") results.push({ ok: true, value: await client.reader.u64("reply") });
    else if (request.reply === "paths") results.push({ ok: true, value: await client.reader.latin1List("reply") });
    else results.push({ ok: true });
  } catch (error) {
    results.push({ ok: false, error: (error as Error).message });
  }
}
client.close();
process.stdout.write(JSON.stringify(results));
