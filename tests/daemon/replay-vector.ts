/**
 * Child process for vectors.ts: connects to the daemon socket (argv[2]),
 * sends stdin, and prints as hex what the daemon answers, once it closed, or
 * sent at least argv[3] bytes and then nothing for a moment, or nothing for
 * a longer while. Run as another user through setpriv to replay an
 * untrusted client.
 */
const [socketPath, expectedText] = process.argv.slice(2);
const expected = Number(expectedText);
const request = new Uint8Array(await Bun.stdin.arrayBuffer());
const received: Uint8Array[] = [];
let size = 0;
let lastData = Date.now();
let closed = false;
const socket = await Bun.connect({
  unix: socketPath!,
  socket: {
    data(_socket, chunk) {
      received.push(new Uint8Array(chunk));
      size += chunk.length;
      lastData = Date.now();
    },
    close() {
      closed = true;
    },
    error() {
      closed = true;
    },
  },
});
let sent = 0;
const started = Date.now();
while (!closed && Date.now() - started < 20_000) {
  if (sent < request.length) sent += Math.max(0, socket.write(request.subarray(sent)));
  const quiet = Date.now() - lastData;
  if ((size >= expected && quiet > 300) || quiet > 2000) break;
  await Bun.sleep(10);
}
socket.end();
process.stdout.write(Buffer.concat(received).toString("hex"));
export {};
