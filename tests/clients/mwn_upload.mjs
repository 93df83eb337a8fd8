#!/usr/bin/env node
// Uploads files to mwstore with the real mwn library (Node) and checks what comes back.
//
// Usage: node mwn_upload.mjs API_URL LGNAME LGPASSWORD
//    or: MW_API=... MW_LGNAME=... MW_LGPASSWORD=... node mwn_upload.mjs
//
// API_URL is the full api.php URL, e.g. http://127.0.0.1:8095/w/api.php. LGNAME is a bot
// password login name (`Alice@bot`). The optional environment variable MW_PREFIX sets the
// file name prefix (default: a fresh random one, so the script can run repeatedly against
// one server).
//
// mwn is resolved through NODE_PATH (tests/real_clients.rs points it at
// target/client-node/node_modules); without NODE_PATH the script falls back to
// <repo>/target/client-node.
//
// mwn is used the way its users use it: `new Mwn({apiUrl, username, password, userAgent})`,
// `bot.login()`, `bot.upload(path, title, text, options)` (also for a file over 10 MiB: mwn
// has no chunking of its own), the "chunked upload by hand" pattern through
// `bot.request(..., {headers: {'Content-Type': 'multipart/form-data'}})` with
// `chunk: {stream: <Buffer>, name}`, badtoken recovery, `bot.request` imageinfo queries and
// `bot.download`. The only non-default option is a short retry pause, so that a server
// fault fails the run quickly; an axios interceptor records the HTTP exchanges for the
// failure report.
//
// Prints one PASS/FAIL line per check and a closing summary line; exits 1 if any check
// failed.

import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const MiB = 1024 * 1024;
/** How long one check may take before it is reported as hanging. */
const CHECK_TIMEOUT_MS = 120000;

function loadMwn() {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const fallback = path.resolve(here, '../../target/client-node/package.json');
    const attempts = [];
    for (const base of [import.meta.url, fallback]) {
        try {
            const req = createRequire(base);
            const mwn = req('mwn');
            // build/index.js -> the package root's package.json
            const pkg = path.resolve(path.dirname(req.resolve('mwn')), '..', 'package.json');
            return { mwn, version: JSON.parse(fs.readFileSync(pkg, 'utf8')).version };
        } catch (e) {
            attempts.push(`${base}: ${e.message.split('\n')[0]}`);
        }
    }
    console.log(
        'FAIL cannot load the mwn library (set NODE_PATH to target/client-node/node_modules, ' +
            'installed by tests/real_clients.rs from tests/clients/mwn/package-lock.json):\n  ' +
            attempts.join('\n  ')
    );
    process.exit(2);
}

const {
    mwn: { Mwn },
    version: mwnVersion,
} = loadMwn();

const results = { passed: 0, failed: 0 };
const exchanges = [];

function shorten(text, max) {
    return text.length > max ? `${text.slice(0, max)}... (${text.length} chars)` : text;
}

function describeBody(data) {
    if (data === undefined || data === null) return '';
    if (typeof data === 'string') return shorten(data, 400);
    if (Buffer.isBuffer(data)) return `<${data.length} bytes>`;
    if (typeof data.getHeaders === 'function') {
        // form-data, before it is sent: a part's header string is followed by its value.
        const streams = data._streams || [];
        const parts = [];
        for (let i = 0; i < streams.length; i++) {
            const head = streams[i];
            const m = typeof head === 'string' && head.match(/name="([^"]*)"(?:; filename="([^"]*)")?/);
            if (!m) continue;
            const value = streams[i + 1];
            if (m[2] !== undefined) {
                const size = Buffer.isBuffer(value) ? `${value.length} bytes` : 'stream';
                parts.push(`${m[1]}=<file '${m[2]}' ${size}>`);
            } else {
                parts.push(`${m[1]}=${shorten(String(value), 80)}`);
            }
        }
        return `multipart ${parts.join(' ')}`;
    }
    return shorten(JSON.stringify(data), 400);
}

function describeResponse(response) {
    const ctype = String(response.headers?.['content-type'] || '');
    let body;
    if (!ctype.startsWith('application/json') && !ctype.startsWith('text')) {
        body = `<${ctype || '?'}, ${response.headers?.['content-length'] ?? '?'} bytes>`;
    } else if (typeof response.data === 'string') {
        body = shorten(response.data, 1500);
    } else {
        body = shorten(JSON.stringify(response.data), 1500);
    }
    const apiError = response.headers?.['mediawiki-api-error'];
    return `-> HTTP ${response.status}${apiError ? ` (MediaWiki-API-Error: ${apiError})` : ''}\n    ${body}`;
}

function recordExchanges(bot) {
    const requestLine = (config) => {
        const query = config.params ? `?${new URLSearchParams(config.params)}` : '';
        return `${String(config.method).toUpperCase()} ${config.url}${shorten(query, 400)}\n    body: ${config.mwstoreBody ?? ''}`;
    };
    // Describe the body when it is handed to axios: a multipart body is consumed by sending.
    bot.axiosInstance.interceptors.request.use((config) => {
        config.mwstoreBody = describeBody(config.data);
        return config;
    });
    bot.axiosInstance.interceptors.response.use(
        (response) => {
            exchanges.push(`${requestLine(response.config)}\n    ${describeResponse(response)}`);
            exchanges.splice(0, Math.max(0, exchanges.length - 12));
            return response;
        },
        (error) => {
            const where = error.config ? requestLine(error.config) : '(no request)';
            const what = error.response ? describeResponse(error.response) : `-> ${error.code || ''} ${error.message}`;
            exchanges.push(`${where}\n    ${what}`);
            exchanges.splice(0, Math.max(0, exchanges.length - 12));
            return Promise.reject(error);
        }
    );
}

function describeError(e) {
    if (e && e.code && e.info) {
        const data = e.response?.data ? ` response: ${shorten(JSON.stringify(e.response.data), 1500)}` : '';
        return `${e.name || 'Error'} ${e.code}: ${e.info}${data}`;
    }
    return `${e?.name || 'Error'}: ${e?.message ?? e}`;
}

async function check(name, func) {
    const start = Date.now();
    exchanges.length = 0;
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${CHECK_TIMEOUT_MS / 1000} s (hanging)`)), CHECK_TIMEOUT_MS);
    });
    const secs = () => ((Date.now() - start) / 1000).toFixed(1);
    try {
        const detail = await Promise.race([func(), timeout]);
        results.passed += 1;
        console.log(`PASS ${name} (${secs()}s): ${detail ?? ''}`);
        return true;
    } catch (e) {
        results.failed += 1;
        console.log(`FAIL ${name} (${secs()}s): ${describeError(e)}`);
        if (e?.stack) console.log(e.stack.split('\n').slice(1, 5).join('\n'));
        console.log('  last HTTP exchanges:');
        for (const ex of exchanges) console.log(`  ${ex}`);
        return false;
    } finally {
        clearTimeout(timer);
    }
}

function require_(cond, message) {
    if (!cond) throw new Error(message);
}

function sha1(data) {
    return createHash('sha1').update(data).digest('hex');
}

const CRC_TABLE = (() => {
    const table = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
        let c = n;
        for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        table[n] = c >>> 0;
    }
    return table;
})();

function crc32(buf) {
    let c = 0xffffffff;
    for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(kind, data) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(data.length, 0);
    head.write(kind, 4, 'latin1');
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
    return Buffer.concat([head, data, crc]);
}

/**
 * A valid truecolour PNG of random pixels. The image data is zlib-framed with stored
 * (uncompressed) deflate blocks, so the file is as big as the pixels and quick to make.
 */
function makePng(width, height) {
    const stride = width * 3 + 1;
    const raw = randomBytes(stride * height);
    for (let y = 0; y < height; y++) raw[y * stride] = 0; // filter type None
    const ihdr = Buffer.alloc(13);
    ihdr.writeUInt32BE(width, 0);
    ihdr.writeUInt32BE(height, 4);
    ihdr.set([8, 2, 0, 0, 0], 8);
    return Buffer.concat([
        Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
        pngChunk('IHDR', ihdr),
        pngChunk('IDAT', zlib.deflateSync(raw, { level: 0 })),
        pngChunk('IEND', Buffer.alloc(0)),
    ]);
}

async function main() {
    let api, lgname, lgpassword;
    const args = process.argv.slice(2);
    if (args.length === 3) {
        [api, lgname, lgpassword] = args;
    } else if (args.length === 0 && process.env.MW_API && process.env.MW_LGNAME && process.env.MW_LGPASSWORD) {
        [api, lgname, lgpassword] = [process.env.MW_API, process.env.MW_LGNAME, process.env.MW_LGPASSWORD];
    } else {
        console.log('usage: node mwn_upload.mjs API_URL LGNAME LGPASSWORD (or MW_API, MW_LGNAME, MW_LGPASSWORD)');
        return 2;
    }
    const prefix = process.env.MW_PREFIX || `Mwn-${randomBytes(4).toString('hex')}-`;
    const user = lgname.split('@')[0];
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mwn-upload-'));
    try {
        return await run(api, lgname, lgpassword, user, prefix, dir);
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

async function run(api, lgname, lgpassword, user, prefix, dir) {
    console.log(`mwn ${mwnVersion} on node ${process.version} against ${api}, file prefix ${prefix}`);
    const bot = new Mwn({
        apiUrl: api,
        username: lgname,
        password: lgpassword,
        userAgent: 'mwstore-tests',
        // Short pause before mwn's own retries (maxlag, readonly, 5xx): fail fast.
        retryPause: 500,
    });
    recordExchanges(bot);

    const login = async () => {
        const data = await bot.login();
        require_(data.result === 'Success', `login result ${JSON.stringify(data)}`);
        require_(bot.loggedIn === true, 'bot.loggedIn is not true after login');
        require_(bot.state.lgusername === user, `bot.state.lgusername is ${JSON.stringify(bot.state.lgusername)}`);
        // mwn only logs a failure of its tokens+siteinfo+userinfo query and carries on with
        // csrfToken '%notoken%': catch that here.
        require_(
            typeof bot.csrfToken === 'string' && bot.csrfToken.endsWith('+\\') && bot.csrfToken.length > 2,
            `no CSRF token after login (getTokensAndSiteInfo failed?): ${JSON.stringify(bot.csrfToken)}`
        );
        require_(bot.state.csrftoken === bot.csrfToken, 'bot.state.csrftoken differs from bot.csrfToken');
        const ui = await bot.request({ action: 'query', meta: 'userinfo', uiprop: 'rights' });
        const info = ui.query?.userinfo;
        require_(info && info.name === user, `userinfo ${JSON.stringify(info)}`);
        require_(Array.isArray(info.rights) && info.rights.includes('upload'), `userinfo.rights without upload: ${JSON.stringify(info.rights)}`);
        // The namespace data mwn loaded must make File: titles work (bot.download needs it).
        const title = new bot.Title(`File:${prefix}x.png`);
        require_(title.getNamespaceId() === 6, `File: title in namespace ${title.getNamespaceId()}`);
        return `as ${info.name}, ${info.rights.length} rights`;
    };
    if (!(await check('login with bot password (bot.login, tokens+siteinfo+userinfo)', login))) {
        return finish();
    }

    const writeLocal = (name, data) => {
        const p = path.join(dir, name);
        fs.writeFileSync(p, data);
        return p;
    };

    const readBack = async (name, data) => {
        const resp = await bot.request({
            action: 'query',
            prop: 'imageinfo',
            titles: `File:${name}`,
            iiprop: 'sha1|size|url',
        });
        const page = resp.query?.pages?.[0];
        require_(page && !page.missing, `File:${name} is missing: ${JSON.stringify(resp)}`);
        const info = page.imageinfo?.[0];
        require_(info, `no imageinfo for File:${name}: ${JSON.stringify(page)}`);
        require_(info.sha1 === sha1(data), `imageinfo sha1 ${info.sha1} != local ${sha1(data)}`);
        require_(info.size === data.length, `imageinfo size ${info.size} != local ${data.length}`);
        return info;
    };

    const requireSuccess = (result, name, data) => {
        require_(result && result.result === 'Success', `upload result is not Success: ${JSON.stringify(result)}`);
        require_(result.filename === name, `upload filename ${JSON.stringify(result.filename)} != ${JSON.stringify(name)}`);
        require_(result.imageinfo?.sha1 === sha1(data), `upload imageinfo.sha1 ${result.imageinfo?.sha1} != ${sha1(data)}`);
    };

    // (a) Direct upload of a small PNG.
    const small = makePng(64, 48);
    const smallName = `${prefix}direct.png`;
    const smallPath = writeLocal('small.png', small);
    await check('direct upload (bot.upload)', async () => {
        const result = await bot.upload(smallPath, smallName, '== Summary ==\nDirect upload by mwn.', {
            comment: 'mwn direct upload — Grüße ✓',
        });
        requireSuccess(result, smallName, small);
        const info = await readBack(smallName, small);
        return `${smallName}, ${small.length} bytes, sha1 ${info.sha1}`;
    });

    await check('download (bot.download) gives the same bytes', async () => {
        const local = path.join(dir, 'downloaded-direct.png');
        await bot.download(`File:${smallName}`, local);
        const got = fs.readFileSync(local);
        require_(got.equals(small), `downloaded ${got.length} bytes (sha1 ${sha1(got)}), expected ${small.length} (sha1 ${sha1(small)})`);
        return `${got.length} bytes`;
    });

    // (b) A file over 10 MiB in one request: mwn does not chunk.
    const big = makePng(1024, 3800);
    const bigName = `${prefix}large.png`;
    const bigPath = writeLocal('large.png', big);
    await check('large file over 10 MiB in one request (bot.upload)', async () => {
        require_(big.length > 10 * MiB, `generated only ${big.length} bytes`);
        const result = await bot.upload(bigPath, bigName, 'Large upload by mwn.', { comment: 'mwn large upload' });
        requireSuccess(result, bigName, big);
        const info = await readBack(bigName, big);
        return `${big.length} bytes in one multipart request, sha1 ${info.sha1}`;
    });

    // (c) Chunked upload by hand through bot.request: 1 MiB chunks into the stash, then
    // a urlencoded commit of the file key.
    const chunked = makePng(1024, 1000);
    const chunkedName = `${prefix}chunked.png`;
    await check('chunked upload by hand (bot.request, stash, 1 MiB chunks, commit)', async () => {
        require_(chunked.length > 2 * MiB && chunked.length % MiB !== 0, `unexpected size ${chunked.length}`);
        let offset = 0;
        let filekey;
        let chunks = 0;
        let last;
        while (offset < chunked.length) {
            const piece = chunked.subarray(offset, Math.min(offset + MiB, chunked.length));
            const resp = await bot.request(
                {
                    action: 'upload',
                    stash: true,
                    filename: chunkedName,
                    filesize: chunked.length,
                    offset,
                    filekey,
                    chunk: { stream: Buffer.from(piece), name: 'chunk.png' },
                    token: bot.csrfToken,
                },
                { headers: { 'Content-Type': 'multipart/form-data' } }
            );
            chunks += 1;
            last = resp.upload;
            require_(last && last.filekey, `chunk ${chunks} at ${offset}: no filekey in ${JSON.stringify(resp)}`);
            filekey = last.filekey;
            const end = offset + piece.length;
            if (end < chunked.length) {
                require_(last.result === 'Continue', `chunk ${chunks} at ${offset}: ${JSON.stringify(last)}`);
                require_(last.offset === end, `chunk ${chunks}: Continue offset ${last.offset}, expected ${end}`);
                offset = last.offset;
            } else {
                require_(last.result === 'Success', `last chunk at ${offset}: ${JSON.stringify(last)}`);
                offset = end;
            }
        }
        require_(
            last.imageinfo?.sha1 === sha1(chunked) && last.imageinfo?.size === chunked.length,
            `stashed file's imageinfo ${JSON.stringify(last.imageinfo)} does not match the local file (sha1 ${sha1(chunked)}, ${chunked.length} bytes)`
        );
        const commit = await bot.request({
            action: 'upload',
            filename: chunkedName,
            filekey,
            comment: 'mwn chunked upload',
            text: 'Chunked upload through mwn.',
            token: bot.csrfToken,
        });
        requireSuccess(commit.upload, chunkedName, chunked);
        const info = await readBack(chunkedName, chunked);
        return `${chunks} chunks + commit, ${chunked.length} bytes, sha1 ${info.sha1}`;
    });

    await check('download of the chunked upload (bot.download)', async () => {
        const local = path.join(dir, 'downloaded-chunked.png');
        await bot.download(`File:${chunkedName}`, local);
        const got = fs.readFileSync(local);
        require_(got.equals(chunked), `downloaded ${got.length} bytes (sha1 ${sha1(got)}), expected ${chunked.length} (sha1 ${sha1(chunked)})`);
        return `${got.length} bytes`;
    });

    // A refused re-upload: with ignorewarnings:false mwn hands back the Warning.
    const small2 = makePng(64, 48);
    const small2Path = writeLocal('small-v2.png', small2);
    await check("re-upload with {ignorewarnings: false} ('exists' Warning handed back)", async () => {
        const result = await bot.upload(small2Path, smallName, 'x', { comment: 'refused', ignorewarnings: false });
        require_(result?.result === 'Warning', `expected a Warning: ${JSON.stringify(result)}`);
        require_(result.warnings?.exists === smallName, `warnings ${JSON.stringify(result.warnings)}`);
        require_(typeof result.filekey === 'string' && result.filekey !== '', `Warning without filekey: ${JSON.stringify(result)}`);
        await readBack(smallName, small);
        return 'Warning/exists, file unchanged';
    });

    // badtoken recovery: mwn asks paraminfo for the token type, fetches fresh tokens and
    // resends. (With bot.upload's file stream the resend cannot work, so this uses a Buffer.)
    const tokenFile = makePng(32, 32);
    const tokenName = `${prefix}badtoken.png`;
    await check('badtoken recovery (paraminfo tokentype, new tokens, resend)', async () => {
        const stale = 'c0ffee0000000000000000000000000000000000+\\';
        bot.csrfToken = stale;
        const resp = await bot.request(
            {
                action: 'upload',
                filename: tokenName,
                text: 'x',
                comment: 'mwn after badtoken',
                file: { stream: tokenFile, name: 'badtoken.png' },
                token: bot.csrfToken,
            },
            { headers: { 'Content-Type': 'multipart/form-data' } }
        );
        requireSuccess(resp.upload, tokenName, tokenFile);
        require_(bot.csrfToken !== stale && bot.csrfToken.endsWith('+\\'), `no fresh CSRF token after the retry: ${bot.csrfToken}`);
        await readBack(tokenName, tokenFile);
        return 'retried with a fresh token';
    });

    return finish();
}

function finish() {
    console.log(`mwn checks: ${results.passed} ok, ${results.failed} failing`);
    return results.failed ? 1 : 0;
}

main().then(
    (code) => process.exit(code),
    (e) => {
        console.log(`FAIL unexpected error: ${e?.stack || e}`);
        process.exit(1);
    }
);
