// Every call kind of Segment's own node client (@segment/analytics-node, unchanged), sent to the
// server named by the first argument with the write key of the second; uids start with the third.
// Exits non-zero when the client reports any error (server/tests/test_segment_clients.py).
import { Analytics } from '@segment/analytics-node'

const [host, writeKey, prefix] = process.argv.slice(2)
const analytics = new Analytics({ writeKey, host, flushAt: 3, maxRetries: 1 })
const errors = []
analytics.on('error', (error) => errors.push(String(error?.reason ?? error?.message ?? error)))

const user = `${prefix}user`
analytics.identify({ userId: user, anonymousId: `${prefix}anon`, traits: { email: `${prefix}user@example.com`, plan: 'pro' } })
analytics.track({ userId: user, event: 'Report Exported', properties: { rows: 3 } })
analytics.page({ userId: user, name: 'Pricing', properties: { url: 'https://example.com/pricing' } })
analytics.screen({ userId: user, name: 'Settings' })
analytics.group({ userId: user, groupId: `${prefix}acme`, traits: { name: 'Acme', mrr: 99 } })
analytics.alias({ userId: user, previousId: `${prefix}old` })
await analytics.closeAndFlush({ timeout: 20000 })

if (errors.length) {
  console.error(errors.join('\n'))
  process.exit(1)
}
console.log('sent')
