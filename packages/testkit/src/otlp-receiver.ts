import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { decodeTraceRequest, type OtlpSpan } from './otlp-traces.ts';

/**
 * A real OTLP/HTTP trace receiver for tests: accepts `POST /v1/traces` with
 * `application/x-protobuf` bodies (gzip or not) on 127.0.0.1 at a free port, decodes every span,
 * and answers 200 with an empty `ExportTraceServiceResponse`. Anything else gets 404/415/400 and
 * is counted in `rejected`, so a test can see that an exporter sent something it cannot read.
 */
export class OtlpReceiver {
  readonly spans: OtlpSpan[] = [];
  /** Requests refused (wrong path, content type, or undecodable body), with the reason. */
  readonly rejected: string[] = [];
  private readonly waiters: { test: () => boolean; resolve: () => void }[] = [];

  private constructor(
    private readonly server: Server,
    /** The URL to give an exporter (`.../v1/traces`). */
    readonly url: string,
  ) {}

  static async start(): Promise<OtlpReceiver> {
    let self: OtlpReceiver | null = null;
    const server = createServer((req, res) => {
      void self?.handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    self = new OtlpReceiver(server, `http://127.0.0.1:${port}/v1/traces`);
    return self;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const refuse = (code: number, why: string): void => {
      this.rejected.push(why);
      res.writeHead(code, { 'content-type': 'text/plain' }).end(why);
    };
    if (req.method !== 'POST' || req.url !== '/v1/traces') return refuse(404, `${req.method} ${req.url}`);
    if (!(req.headers['content-type'] ?? '').startsWith('application/x-protobuf')) {
      return refuse(415, `content-type ${req.headers['content-type']}`);
    }
    try {
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      this.spans.push(...decodeTraceRequest(body));
    } catch (err) {
      return refuse(400, (err as Error).message);
    }
    res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    for (const w of [...this.waiters]) {
      if (w.test()) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve();
      }
    }
  }

  /** Resolves once `test` holds over the spans received; rejects after `timeoutMs`. */
  waitFor(test: (spans: readonly OtlpSpan[]) => boolean, timeoutMs = 10_000): Promise<void> {
    if (test(this.spans)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        reject(new Error(`OTLP receiver: condition not met within ${timeoutMs} ms (${this.spans.length} spans received)`));
      }, timeoutMs);
      const w = {
        test: () => test(this.spans),
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      this.waiters.push(w);
    });
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
