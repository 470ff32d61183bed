/**
 * The registry's /metrics in Prometheus' text format: requests by method, route kind and status,
 * bytes in and out, and request durations (uploads apart, as a histogram).
 */
const BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60];

/** A path's route kind, so labels stay few whatever the repository names. */
function kindOf(path: string): string {
  if (path === '/v2/' || path === '/v2') return 'base';
  if (path === '/v2/_catalog') return 'catalog';
  if (/\/blobs\/uploads\//.test(path)) return 'upload';
  if (/\/blobs\//.test(path)) return 'blob';
  if (/\/manifests\//.test(path)) return 'manifest';
  if (/\/tags\/list$/.test(path)) return 'tags';
  if (/\/referrers\//.test(path)) return 'referrers';
  return 'other';
}

export class Metrics {
  private readonly requests = new Map<string, number>();
  private bytesIn = 0;
  private bytesOut = 0;
  private readonly uploadBuckets = BUCKETS.map(() => 0);
  private uploadCount = 0;
  private uploadSum = 0;

  request(method: string, path: string, status: number, bytesIn: number, bytesOut: number, ms: number): void {
    const kind = kindOf(path);
    const key = `method="${method}",route="${kind}",code="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    this.bytesIn += bytesIn;
    this.bytesOut += bytesOut;
    if (kind === 'upload' && method !== 'GET' && method !== 'DELETE') {
      const s = ms / 1000;
      this.uploadCount++;
      this.uploadSum += s;
      BUCKETS.forEach((b, i) => {
        if (s <= b) this.uploadBuckets[i]++;
      });
    }
  }

  text(): string {
    const lines = [
      '# HELP berth_registry_requests_total Requests answered, by method, route and status code.',
      '# TYPE berth_registry_requests_total counter',
      ...[...this.requests].sort().map(([k, v]) => `berth_registry_requests_total{${k}} ${v}`),
      '# HELP berth_registry_bytes_received_total Bytes read from clients, headers included.',
      '# TYPE berth_registry_bytes_received_total counter',
      `berth_registry_bytes_received_total ${this.bytesIn}`,
      '# HELP berth_registry_bytes_sent_total Bytes written to clients, headers included.',
      '# TYPE berth_registry_bytes_sent_total counter',
      `berth_registry_bytes_sent_total ${this.bytesOut}`,
      '# HELP berth_registry_upload_request_duration_seconds Time of upload requests that carry data (POST, PATCH, PUT).',
      '# TYPE berth_registry_upload_request_duration_seconds histogram',
      ...BUCKETS.map((b, i) => `berth_registry_upload_request_duration_seconds_bucket{le="${b}"} ${this.uploadBuckets[i]}`),
      `berth_registry_upload_request_duration_seconds_bucket{le="+Inf"} ${this.uploadCount}`,
      `berth_registry_upload_request_duration_seconds_sum ${this.uploadSum}`,
      `berth_registry_upload_request_duration_seconds_count ${this.uploadCount}`,
    ];
    return lines.join('\n') + '\n';
  }
}
