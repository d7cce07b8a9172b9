/**
 * Test helper: a loopback TCP proxy in front of a real server (PostgreSQL here), to simulate its
 * outages without touching the server other tests use. `pause()` stalls every byte both ways
 * (a hung database or network); `stop()` refuses and cuts connections (a database that is down);
 * `start()` listens again on the same port.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export interface TcpProxy {
  readonly port: number;
  pause(): void;
  resume(): void;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  interface Link {
    readonly sockets: readonly [Socket, Socket];
    /** Writes held back while paused, in arrival order. */
    held: (() => void)[];
  }
  const links = new Set<Link>();
  let paused = false;
  let port = 0;
  let server: Server | undefined;

  const listen = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const s = createServer((client) => {
        const upstream = connect(targetPort, targetHost);
        const link: Link = { sockets: [client, upstream], held: [] };
        links.add(link);
        // Bytes are forwarded by hand, so a pause holds them here whatever the streams' flow state.
        const forward = (to: Socket) => (chunk: Buffer) => {
          if (paused) link.held.push(() => to.write(chunk));
          else to.write(chunk);
        };
        client.on('data', forward(upstream));
        upstream.on('data', forward(client));
        const drop = (): void => {
          links.delete(link);
          client.destroy();
          upstream.destroy();
        };
        client.on('error', drop).on('close', drop);
        upstream.on('error', drop).on('close', drop);
      });
      s.once('error', reject);
      s.listen(port, '127.0.0.1', () => {
        const addr = s.address();
        if (addr && typeof addr === 'object') port = addr.port;
        server = s;
        resolve();
      });
    });

  const stop = async (): Promise<void> => {
    const s = server;
    server = undefined;
    for (const link of links) for (const sock of link.sockets) sock.destroy();
    links.clear();
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  };

  await listen();
  return {
    get port() {
      return port;
    },
    pause() {
      paused = true;
    },
    resume() {
      paused = false;
      for (const link of links) {
        const held = link.held;
        link.held = [];
        for (const write of held) write();
      }
    },
    stop,
    start: listen,
    close: stop,
  };
}
