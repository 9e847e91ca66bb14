import { stageShares, type Profile } from './profile-summary.js'
import type { StepCosts } from './server-costs.js'

export interface CpuStage {
  stage: string
  /** Share of the CPU the bridge processes used (idle left out), from their CPU profiles. */
  share: number
  /** That share of the bridge CPU per delivered message measured from /proc over the steps. */
  usPerMessage: number
}

export interface CpuProfileSummary {
  /** Bridge CPU per delivered message over every step (from /proc), which the shares divide. */
  usPerMessage: number
  stages: CpuStage[]
}

/**
 * Per-stage CPU per message: the profiles say which stage the bridge's CPU went to (over the whole
 * run, start-up and warm-up included), /proc says how much CPU a delivered message took (over the
 * steps). Undefined without profiles or without a step that delivered anything.
 */
export function profileStages(
  profiles: readonly Profile[],
  steps: readonly { costs?: StepCosts | undefined }[],
): CpuProfileSummary | undefined {
  let us = 0
  let delivered = 0
  for (const st of steps) {
    const cpu = st.costs?.rows.find((r) => r.what.startsWith('bridge CPU'))
    if (st.costs === undefined || cpu === undefined) continue
    us += cpu.perMessage * st.costs.delivered
    delivered += st.costs.delivered
  }
  if (profiles.length === 0 || delivered === 0) return undefined
  const usPerMessage = us / delivered
  return {
    usPerMessage,
    stages: stageShares(profiles).map((s) => ({ ...s, usPerMessage: s.share * usPerMessage })),
  }
}

/** The per-stage table of a run profiled with --cpu-prof. */
export function cpuStageTable(p: CpuProfileSummary | undefined): string[] {
  if (p === undefined) return []
  const r = (v: number, d = 1): number => Math.round(v * 10 ** d) / 10 ** d
  return [
    `Bridge CPU per delivered message by stage (\`--cpu-prof\`: self time per stage as a share of the bridge's busy ` +
      `CPU over the whole run, times the ${r(p.usPerMessage, 0)} µs per delivered message measured from /proc over the steps):`,
    '',
    '| stage | share of bridge CPU | µs per message |',
    '|---|---:|---:|',
    ...p.stages
      .filter((s) => s.share >= 0.005)
      .map((s) => `| ${s.stage} | ${r(100 * s.share)} % | ${r(s.usPerMessage)} |`),
    '',
  ]
}
