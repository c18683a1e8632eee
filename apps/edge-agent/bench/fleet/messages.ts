/**
 * The IPC messages between the fleet benchmark's parent (./main.ts) and its worker processes
 * (./worker.ts). Timestamps are Date.now() milliseconds: the processes share one system clock.
 *
 * Trust boundary: none beyond the machine; enrollment tokens pass over the local IPC channel to
 * the child that spends them, and are never printed.
 */

export interface AgentJob {
  readonly deviceId: string;
  readonly token: string;
}

export type Phase = 'provisioned' | 'connected' | 'epoch2-held' | 'epoch2-acked' | 'epoch2' | 'locked' | 'acked' | 'raw-ready' | 'raw';

export type ToWorker =
  | { readonly type: 'provision'; readonly agents: readonly AgentJob[]; readonly controller: string; readonly caPem: string; readonly root: string; readonly fleet: string }
  | { readonly type: 'link' }
  | { readonly type: 'arm-lockdown' }
  | { readonly type: 'raw-subscribe' }
  | { readonly type: 'arm-raw' }
  | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'started' }
  /** Every agent of the worker reached the phase; `at` is the last one's time, `first` the first one's. */
  | { readonly type: 'phase'; readonly phase: Phase; readonly at: number; readonly first: number; readonly detail?: Record<string, number> }
  | { readonly type: 'progress'; readonly phase: Phase; readonly count: number; readonly of: number }
  | { readonly type: 'armed' }
  | { readonly type: 'closed'; readonly warnings: number; readonly errors: number; readonly samples: readonly string[] }
  | { readonly type: 'failed'; readonly message: string };
