/**
 * Child process for trust.live.test.ts, run as another user: connects to the
 * daemon socket (argv[2]), sends the worker magic and prints how many bytes
 * came back: "answered" once the daemon's magic and version (16 bytes) are
 * in, "closed" when the daemon closed first, "open" after 5 s of silence.
 */
export {}; // a module: top-level await

const socketPath = process.argv[2]!;
const magic = new Uint8Array([0x63, 0x78, 0x69, 0x6e, 0, 0, 0, 0]);
let received = 0;
const closed = Promise.withResolvers<string>();
// A connection the daemon drops at once can already be gone when Bun would report it open:
// Bun then fails the connect itself (ECONNREFUSED), which means the same here: closed, nothing sent.
const socket = await Bun.connect({
  unix: socketPath,
  socket: {
    data(_socket, chunk) {
      received += chunk.length;
      if (received >= 16) closed.resolve("answered");
    },
    close() {
      closed.resolve("closed");
    },
    end() {
      closed.resolve("closed");
    },
    error(_socket, error) {
      closed.resolve(`error ${error.message}`);
    },
  },
}).catch(() => undefined);
if (socket === undefined) {
  process.stdout.write(JSON.stringify({ received: 0, outcome: "closed" }));
  process.exit(0);
}
socket.write(magic);
const outcome = await Promise.race([closed.promise, Bun.sleep(5_000).then(() => "open")]);
socket.end();
process.stdout.write(JSON.stringify({ received, outcome: outcome.startsWith("error") ? "closed" : outcome }));
process.exit(0);
