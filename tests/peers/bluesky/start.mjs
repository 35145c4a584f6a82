// A full local Bluesky network (PLC + PDS + AppView + Ozone) for the connector tests.
// Ports and the PostgreSQL database come from the environment (the pytest fixture picks
// free ports). Prints one JSON line with the URLs when ready; stops on SIGTERM/SIGINT,
// dropping the PostgreSQL schemas it made.
import pg from 'pg'
import { TestNetwork, mockMailer } from '@atproto/dev-env'

const env = (name, fallback) => process.env[name] ?? fallback
const port = (name) => {
  const value = Number(env(name, '0'))
  if (!value) throw new Error(`${name} must be set to a free port`)
  return value
}

const dbUrl = env('BSKY_PEER_DB_URL', 'postgres://postgres@127.0.0.1:5432/relais_bsky_peer')
// A schema of its own per run: a run killed with -9 leaves stale data, never a clash.
// Schema names allow only [A-Za-z_]: digits are spelt as letters (0 → a … 9 → j).
const letters = (n) => String(n).replace(/\d/g, (d) => String.fromCharCode(97 + Number(d)))
const digits = (s) => Number(s.replace(/[a-j]/g, (c) => String(c.charCodeAt(0) - 97)))
const schema = `relais_${letters(process.pid)}_${letters(Date.now())}`

async function ensureDatabase() {
  const url = new URL(dbUrl)
  const name = url.pathname.replace(/^\//, '')
  url.pathname = '/postgres'
  const admin = new pg.Client({ connectionString: url.toString() })
  await admin.connect()
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])
    if (found.rowCount === 0) {
      try {
        await admin.query(`CREATE DATABASE "${name}"`)
      } catch (err) {
        if (err.code !== '42P04' && err.code !== '23505') throw err // made meanwhile by a parallel run
      }
    }
  } finally {
    await admin.end()
  }
}

async function dropSchemas(onlyStale) {
  const client = new pg.Client({ connectionString: dbUrl })
  await client.connect()
  try {
    const rows = await client.query(
      "SELECT nspname FROM pg_namespace WHERE nspname LIKE '%relais\\_%'",
    )
    for (const { nspname } of rows.rows) {
      const match = /relais_([a-j]+)_[a-j]+$/.exec(nspname)
      if (!match) continue
      const pid = digits(match[1])
      const mine = nspname.endsWith(schema)
      let alive = false
      try {
        process.kill(pid, 0)
        alive = true
      } catch {}
      if ((onlyStale && !alive && !mine) || (!onlyStale && mine)) {
        await client.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`)
      }
    }
  } finally {
    await client.end()
  }
}

await ensureDatabase()
await dropSchemas(true)

const network = await TestNetwork.create({
  dbPostgresUrl: dbUrl,
  dbPostgresSchema: schema,
  plc: { port: port('BSKY_PEER_PLC_PORT') },
  pds: { port: port('BSKY_PEER_PDS_PORT'), hostname: 'localhost' },
  bsky: { port: port('BSKY_PEER_APPVIEW_PORT') },
  ozone: { port: port('BSKY_PEER_OZONE_PORT') },
})
mockMailer(network.pds)

let stopping = false
async function stop() {
  if (stopping) return
  stopping = true
  try {
    await network.close()
    await dropSchemas(false)
  } catch (err) {
    console.error('bluesky peer: stop failed', err)
  }
  process.exit(0)
}
process.on('SIGTERM', stop)
process.on('SIGINT', stop)

console.log(
  JSON.stringify({
    ready: true,
    plc: network.plc.url,
    pds: network.pds.url,
    appview: network.bsky.url,
    ozone: network.ozone.url,
    schema,
  }),
)
