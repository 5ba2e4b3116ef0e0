import { readdirSync, readFileSync } from 'node:fs';

const PAGE_BYTES = 4096;

/** pid → [parent pid, resident bytes] of every process, from /proc (Linux). */
function processTable(): Map<number, [number, number]> {
  const table = new Map<number, [number, number]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command name, which is in parentheses and may contain spaces.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      table.set(Number(entry), [Number(fields[1]), Number(fields[21]) * PAGE_BYTES]);
    } catch {
      // exited meanwhile
    }
  }
  return table;
}

/** Resident bytes of `root` and all its descendants now. */
function treeRss(root: number): number {
  const table = processTable();
  let total = 0;
  const pending = [root];
  while (pending.length) {
    const pid = pending.pop()!;
    total += table.get(pid)?.[1] ?? 0;
    for (const [child, [parent]] of table) if (parent === pid) pending.push(child);
  }
  return total;
}

/**
 * Samples the summed resident memory of a process tree (a program, the Pulumi CLI and its
 * plugins are separate processes) every `intervalMs` until stopped; returns the peak.
 */
export function sampleTreeRss(root: number, intervalMs = 100): () => number {
  let peak = treeRss(root);
  const timer = setInterval(() => { peak = Math.max(peak, treeRss(root)); }, intervalMs);
  return () => {
    clearInterval(timer);
    return peak;
  };
}
