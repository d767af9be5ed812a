import { describe, expect, it } from 'vitest';
import { cpuPercent, memoryUsage } from './stats.js';

describe('cpuPercent', () => {
  it('computes it as docker stats does', () => {
    const stats = {
      cpu_stats: { cpu_usage: { total_usage: 2_000_000_000 }, system_cpu_usage: 20_000_000_000, online_cpus: 4 },
      precpu_stats: { cpu_usage: { total_usage: 1_000_000_000 }, system_cpu_usage: 10_000_000_000 },
    };
    // 1 s of CPU time over 10 s of host time (all 4 CPUs): a quarter of the host, 40% of one core.
    expect(cpuPercent(stats)).toBeCloseTo(40);
  });

  it('counts CPUs from percpu_usage when online_cpus is missing (older engines)', () => {
    const stats = {
      cpu_stats: { cpu_usage: { total_usage: 300, percpu_usage: [150, 150] }, system_cpu_usage: 2000 },
      precpu_stats: { cpu_usage: { total_usage: 100 }, system_cpu_usage: 1000 },
    };
    expect(cpuPercent(stats)).toBeCloseTo(40);
  });

  it('is 0 without a previous sample or when nothing moved', () => {
    expect(cpuPercent({ cpu_stats: { cpu_usage: { total_usage: 5 }, system_cpu_usage: 10 }, precpu_stats: {} })).toBe(
      0,
    );
    expect(cpuPercent({})).toBe(0);
  });
});

describe('memoryUsage', () => {
  it('subtracts the inactive page cache (cgroup v1)', () => {
    expect(memoryUsage({ memory_stats: { usage: 1000, stats: { total_inactive_file: 300, cache: 400 } } })).toBe(700);
  });
  it('subtracts inactive_file (cgroup v2)', () => {
    expect(memoryUsage({ memory_stats: { usage: 1000, stats: { inactive_file: 100 } } })).toBe(900);
  });
  it('falls back to cache, then to the raw usage', () => {
    expect(memoryUsage({ memory_stats: { usage: 1000, stats: { cache: 250 } } })).toBe(750);
    expect(memoryUsage({ memory_stats: { usage: 1000 } })).toBe(1000);
    expect(memoryUsage({})).toBe(0);
  });
});
