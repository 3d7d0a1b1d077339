// The part of autocannon's programmatic API the benchmarks use (the package ships no types, and
// @types/autocannon would be one more dependency for a few fields).
declare module "autocannon" {
  namespace autocannon {
    type Options = {
      url: string;
      connections?: number;
      pipelining?: number;
      /** Seconds. */
      duration?: number;
      /** Total requests to send, instead of a duration. */
      amount?: number;
      /** Seconds a request may take before it counts as a timeout. */
      timeout?: number;
      headers?: Record<string, string>;
      method?: string;
      body?: string;
      /** Requests each connection sends in turn; `setupRequest` may rewrite one before it goes out. */
      requests?: {
        method?: string;
        path?: string;
        body?: string;
        setupRequest?: (req: RequestParams) => RequestParams;
      }[];
    };
    type RequestParams = { method?: string; path?: string; headers?: Record<string, string>; body?: string };
    /** Percentiles of a histogram: latency in milliseconds, requests per second-long sample. */
    type Histogram = {
      mean: number;
      stddev: number;
      min: number;
      max: number;
      p50: number;
      p90: number;
      p97_5: number;
      p99: number;
      total: number;
    };
    type Result = {
      duration: number;
      errors: number;
      timeouts: number;
      non2xx: number;
      resets: number;
      "2xx": number;
      statusCodeStats: Record<string, { count: number }>;
      latency: Histogram;
      requests: Histogram & { sent: number };
      throughput: Histogram;
    };
  }
  /** Runs one load test; the promise settles with the aggregated result. */
  function autocannon(options: autocannon.Options): Promise<autocannon.Result>;
  export = autocannon;
}
