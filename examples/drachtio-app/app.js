// A drachtio-srf application whose phones live in the kadsip overlay (README: "As a drachtio-srf
// plugin"). Phones register with drachtio-server; the app keeps their bindings and publishes them
// in the overlay; their calls, and calls to them from any kadsip node, are located through the
// overlay (RFC 3263 for other domains) and proxied by drachtio-server with Record-Route.
//
//   drachtio -f examples/drachtio-app/drachtio.conf.xml &
//   KADSIP_BOOTSTRAP=127.0.0.1:5060 node examples/drachtio-app/app.js
import Srf from 'drachtio-srf';
import { pino } from 'pino';
import { kadsipOverlay } from 'kadsip/drachtio';

const env = process.env;
const list = (v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined);
const logger = pino({ level: env.LOG_LEVEL ?? 'info' });

// The app's own overlay peer: dSIP on its own socket, joining the overlay through the bootstraps.
const kad = await kadsipOverlay({
  listen: env.KADSIP_LISTEN ?? '127.0.0.1:5070',
  sipAddress: env.SIP_ADDRESS ?? '127.0.0.1:5090', // drachtio-server's <contact>
  bootstrap: list(env.KADSIP_BOOTSTRAP),
  domains: list(env.KADSIP_DOMAIN) ?? ['example.com'],
  usersFile: env.KADSIP_USERS_FILE,
  digestAlgorithms: list(env.KADSIP_DIGEST_ALGORITHMS),
  logger,
});

const srf = new Srf();
srf.connect({ host: env.DRACHTIO_HOST ?? '127.0.0.1', port: Number(env.DRACHTIO_PORT ?? 9022), secret: env.DRACHTIO_SECRET ?? 'cymru' });
srf.on('connect', (err, hostport) => logger.info({ hostport, peer: kad.address }, 'connected to drachtio-server'));
srf.on('error', (err) => logger.warn({ err: err.message }, 'drachtio-server connection'));

srf.register(kad.register);
srf.invite(kad.invite);
for (const method of ['message', 'options', 'subscribe', 'refer']) srf[method](kad.request);
// What the plugin leaves to the next middleware: an OPTIONS to drachtio-server itself (a keep-alive).
srf.options((req, res) => res.send(200));

// SIGTERM/SIGINT: leave the overlay gracefully (records handed over), then exit.
for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, async () => {
    srf.disconnect();
    await kad.leave();
    process.exit(0);
  });
}
