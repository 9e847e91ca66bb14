/**
 * kafkajs 2.2.4's request queue schedules its throttle check with a negative delay when no broker
 * throttle is active (requestQueue/index.js, scheduleCheckPendingRequests). Node has always clamped
 * that to 1 ms; since Node 24 it also prints a TimeoutNegativeWarning, once per process, to stderr,
 * which lands in the middle of a CLI command's output. The behaviour is unchanged, so that one
 * warning is dropped; every other warning is still printed the way Node prints it.
 * Called by the entry points only (they own the process).
 */
export function hideKnownRuntimeWarnings(): void {
  const printers = process.listeners('warning')
  process.removeAllListeners('warning')
  process.on('warning', (warning) => {
    if (warning.name === 'TimeoutNegativeWarning') return
    for (const print of printers) print(warning)
  })
}
