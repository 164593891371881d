// /metrics in Prometheus' text format. Small and dependency-free: counters, gauges read
// at scrape time, and one histogram.

const LATENCY_BUCKETS_MS = [0.5, 1, 2, 3, 5, 10, 25, 50, 100, 250, 1000, 5000];

export class Metrics {
  readonly startsByOutcome = new Map<string, number>();
  launcherRestarts = 0;
  /** health probes run (src/main/health) */
  healthProbes = 0;
  private readonly bucketCounts = new Array<number>(LATENCY_BUCKETS_MS.length).fill(0);
  private latencyCount = 0;
  private latencySumMs = 0;

  countStart(outcome: 'ok' | 'failed' | 'rejected'): void {
    this.startsByOutcome.set(outcome, (this.startsByOutcome.get(outcome) ?? 0) + 1);
  }

  observeStartLatency(ms: number): void {
    this.latencyCount++;
    this.latencySumMs += ms;
    LATENCY_BUCKETS_MS.forEach((b, i) => { if (ms <= b) this.bucketCounts[i]!++; });
  }

  render(gauges: { queueDepth: number; running: number; containers: number; removalBacklog?: number; consoles?: Record<string, number> }): string {
    const lines: string[] = [
      '# HELP skiff_starts_total Container starts by outcome.',
      '# TYPE skiff_starts_total counter',
      ...['ok', 'failed', 'rejected'].map((o) => `skiff_starts_total{outcome="${o}"} ${this.startsByOutcome.get(o) ?? 0}`),
      '# HELP skiff_start_latency_seconds From start accepted to PID 1 exec\'d.',
      '# TYPE skiff_start_latency_seconds histogram',
      ...LATENCY_BUCKETS_MS.map((b, i) => `skiff_start_latency_seconds_bucket{le="${b / 1000}"} ${this.bucketCounts[i]}`),
      `skiff_start_latency_seconds_bucket{le="+Inf"} ${this.latencyCount}`,
      `skiff_start_latency_seconds_sum ${this.latencySumMs / 1000}`,
      `skiff_start_latency_seconds_count ${this.latencyCount}`,
      '# HELP skiff_queue_depth Starts waiting for a launcher.',
      '# TYPE skiff_queue_depth gauge',
      `skiff_queue_depth ${gauges.queueDepth}`,
      '# HELP skiff_containers_running Containers whose PID 1 is running.',
      '# TYPE skiff_containers_running gauge',
      `skiff_containers_running ${gauges.running}`,
      '# HELP skiff_containers Containers known to skiffd.',
      '# TYPE skiff_containers gauge',
      `skiff_containers ${gauges.containers}`,
      '# HELP skiff_removal_backlog Removed containers whose state directories are still being deleted.',
      '# TYPE skiff_removal_backlog gauge',
      `skiff_removal_backlog ${gauges.removalBacklog ?? 0}`,
      '# HELP skiff_launcher_restarts_total Launcher workers replaced after a crash or hang.',
      '# TYPE skiff_launcher_restarts_total counter',
      `skiff_launcher_restarts_total ${this.launcherRestarts}`,
      '# HELP skiff_health_probes_total Health check probes run.',
      '# TYPE skiff_health_probes_total counter',
      `skiff_health_probes_total ${this.healthProbes}`,
    ];
    for (const [name, value] of Object.entries(gauges.consoles ?? {})) {
      lines.push(`# TYPE skiff_console_${name} counter`, `skiff_console_${name} ${value}`);
    }
    return `${lines.join('\n')}\n`;
  }
}
