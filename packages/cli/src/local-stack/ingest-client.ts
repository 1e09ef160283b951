/** A small client for the ingest API, used by `gradcam demo`, the pipeline benchmark and tests. */
export interface IngestClientOptions {
  readonly baseUrl: string;
  readonly token: string;
}

export interface BatchResult {
  readonly accepted: number;
  readonly rejected: number;
  readonly results: readonly ({ index: number; id?: string; status?: string; duplicate?: boolean; error?: { code: string; message: string } })[];
}

export interface InferenceStatusBody {
  readonly id: string;
  readonly status: 'queued' | 'processing' | 'done' | 'failed' | 'skipped';
  readonly folder: string;
  readonly failure?: { code: string; message: string };
  readonly manifest?: { explanations: { method: string; classIndex: number; label: string; overlay: { path: string } }[]; prediction: { label: string } };
  readonly urls?: Record<string, string>;
}

export class IngestClient {
  constructor(private readonly options: IngestClientOptions) {}

  private async call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${this.options.baseUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.options.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text === '' ? undefined : JSON.parse(text)) as T };
  }

  async postBatch(records: readonly unknown[]): Promise<BatchResult> {
    const { status, body } = await this.call<BatchResult & { error?: { message: string } }>('POST', '/v1/inferences:batch', { records });
    if (status !== 200) throw new Error(`POST /v1/inferences:batch answered ${status}: ${body.error?.message ?? JSON.stringify(body)}`);
    return body;
  }

  async status(id: string): Promise<InferenceStatusBody> {
    const { status, body } = await this.call<InferenceStatusBody & { error?: { message: string } }>('GET', `/v1/inferences/${encodeURIComponent(id)}`);
    if (status !== 200) throw new Error(`GET /v1/inferences/${id} answered ${status}: ${body.error?.message ?? JSON.stringify(body)}`);
    return body;
  }

  /** Polls until every id is done, failed or skipped (or the deadline passes). */
  async waitForAll(ids: readonly string[], timeoutMs: number, onProgress?: (finished: number) => void): Promise<Map<string, InferenceStatusBody>> {
    const finished = new Map<string, InferenceStatusBody>();
    const deadline = Date.now() + timeoutMs;
    while (finished.size < ids.length) {
      if (Date.now() > deadline) throw new Error(`${ids.length - finished.size} of ${ids.length} inferences were not finished after ${timeoutMs / 1000} s`);
      for (const id of ids) {
        if (finished.has(id)) continue;
        const status = await this.status(id);
        if (status.status === 'done' || status.status === 'failed' || status.status === 'skipped') finished.set(id, status);
      }
      onProgress?.(finished.size);
      if (finished.size < ids.length) await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return finished;
  }
}
