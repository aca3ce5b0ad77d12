// The records every benchmark uses: a typical ~250-byte request log, plus ~100 B and ~4 KiB variants,
// each as pino writes it (one JSON line, with level, time, pid and hostname first).

const base = { level: 30, time: 1700000000000, pid: 4242, hostname: 'bench-host' }

export const RECORDS = {
  '100B': { ...base, msg: 'cache hit', key: 'user:1234' },
  '250B': {
    ...base,
    reqId: 'req-7f3a9c2e',
    req: { method: 'GET', url: '/api/v1/orders?page=2', remoteAddress: '10.1.2.3' },
    res: { statusCode: 200 },
    responseTime: 12.5,
    msg: 'request completed'
  },
  '4KiB': { ...base, msg: 'large payload', items: Array.from({ length: 40 }, (_, i) => ({ id: i, name: `item-${i}`, price: i * 1.25, tags: ['a', 'b', 'c'] })) }
}

for (const [name, record] of Object.entries(RECORDS)) {
  record.size = name
}
