// A real Vendure server for Shelfsync's connector tests and demos: sql.js (pure JS) in one file.
// Usage: node server.js --port 3000 --db /tmp/vendure.sqlite   (or VENDURE_PORT / VENDURE_DB)
'use strict';
const path = require('path');
const { bootstrap, DefaultLogger, LogLevel, dummyPaymentHandler } = require('@vendure/core');

function option(name, fallback) {
    const flag = process.argv.indexOf(`--${name}`);
    if (flag !== -1 && process.argv[flag + 1]) return process.argv[flag + 1];
    return process.env[`VENDURE_${name.toUpperCase().replace(/-/g, '_')}`] || fallback;
}

const port = Number(option('port', '3000'));
const dbFile = path.resolve(option('db', path.join(__dirname, 'data', 'vendure.sqlite')));

bootstrap({
    apiOptions: { hostname: '127.0.0.1', port, adminApiPath: 'admin-api', shopApiPath: 'shop-api' },
    authOptions: {
        tokenMethod: 'bearer',
        superadminCredentials: {
            identifier: option('superadmin-username', 'superadmin'),
            password: option('superadmin-password', 'superadmin'),
        },
    },
    // A fresh file per run: synchronize creates the schema on first boot, no migrations to keep.
    dbConnectionOptions: { type: 'sqljs', location: dbFile, autoSave: true, synchronize: true },
    paymentOptions: { paymentMethodHandlers: [dummyPaymentHandler] },
    logger: new DefaultLogger({ level: LogLevel.Warn }),
})
    .then(() => console.log(`vendure listening on http://127.0.0.1:${port} (db ${dbFile})`))
    .catch(error => {
        console.error(error);
        process.exit(1);
    });
