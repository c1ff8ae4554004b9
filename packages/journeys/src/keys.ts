/** Every key of the journeys and hourly figures, under the deployment's prefix. */
export function journeyKeys(prefix: string) {
  const eventsPrefix = `${prefix}:journey:`;
  return {
    /** zset email_id → arrival time (ms): the list, newest first. */
    index: `${prefix}:journeys`,
    /** hash received|delivered → epoch ms of the latest one. */
    last: `${prefix}:journeys:last`,
    eventsPrefix,
    /** list of JSON events, oldest first. */
    events: (emailId: string) => `${eventsPrefix}${emailId}`,
    /** hash of the fields the list and search read (see summaryFields). */
    summary: (emailId: string) => `${eventsPrefix}${emailId}:s`,
    /** hash of one hour's counters and latency histogram. */
    hour: (hourMs: number) => `${prefix}:stats:h:${hourMs}`,
  };
}
