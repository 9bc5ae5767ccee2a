// Pure parts of the Engine API client: query encoding, version negotiation, JSON progress streams,
// the multiplexed log framing and `docker service logs` details — with malformed and hostile input.
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  compareVersions,
  encodeQuery,
  jsonMessages,
  logDemuxer,
  parseServiceLogLine,
} from '../../src/runtime/swarm/docker.js';

/** One frame of the non-TTY log stream: [stream, 0, 0, 0, size32] + payload. */
function frame(stream: 1 | 2, text: string): Buffer {
  const body = Buffer.from(text, 'utf8');
  const head = Buffer.alloc(8);
  head[0] = stream;
  head.writeUInt32BE(body.length, 4);
  return Buffer.concat([head, body]);
}

describe('encodeQuery', () => {
  it.each([
    ['empty', {}, ''],
    ['undefined dropped', { a: undefined, b: 1 }, '?b=1'],
    ['booleans', { force: true }, '?force=true'],
    [
      'filters as JSON',
      { filters: { label: ['a=b'] } },
      `?filters=${encodeURIComponent('{"label":["a=b"]}')}`,
    ],
    ['ampersand cannot add a parameter', { t: 'x&force=1' }, '?t=x%26force%3D1'],
    ['path chars stay in the value', { t: '../../containers/create' }, '?t=..%2F..%2Fcontainers%2Fcreate'],
    ['newline', { t: 'a\r\nHost: evil' }, '?t=a%0D%0AHost%3A%20evil'],
  ])('%s', (_n, q, expected) => {
    expect(encodeQuery(q)).toBe(expected);
  });
});

describe('compareVersions', () => {
  it.each([
    ['1.41', '1.41', 0],
    ['1.40', '1.41', -1],
    ['1.43', '1.41', 1],
    ['1.9', '1.41', -1],
    ['2.0', '1.99', 1],
  ])('%s vs %s', (a, b, sign) => {
    expect(Math.sign(compareVersions(a, b))).toBe(sign);
  });
});

describe('jsonMessages', () => {
  it('parses messages split across chunks, CRLF and blank lines', async () => {
    const chunks = ['{"stream":"Step 1/2"}\r\n{"str', 'eam":"x"}\n\n{"aux":{"ID":"sha256:1"}}'];
    const out = [];
    for await (const m of jsonMessages(Readable.from(chunks))) out.push(m);
    expect(out).toEqual([{ stream: 'Step 1/2' }, { stream: 'x' }, { aux: { ID: 'sha256:1' } }]);
  });

  it('rejects a line that is not JSON', async () => {
    const run = async () => {
      for await (const _ of jsonMessages(Readable.from(['{"ok":1}\nnot json\n']))) {
        // drain
      }
    };
    await expect(run()).rejects.toThrow(SyntaxError);
  });
});

describe('logDemuxer', () => {
  it('splits frames into lines per stream, across chunk and frame boundaries', () => {
    const lines: string[] = [];
    const feed = logDemuxer((s, l) => lines.push(`${s}:${l}`));
    const all = Buffer.concat([frame(1, 'hello\nwor'), frame(2, 'oops\r\n'), frame(1, 'ld\n')]);
    for (let i = 0; i < all.length; i += 5) feed(all.subarray(i, i + 5));
    expect(lines).toEqual(['stdout:hello', 'stderr:oops', 'stdout:world']);
  });

  it('waits for a whole frame before emitting', () => {
    const lines: string[] = [];
    const feed = logDemuxer((_s, l) => lines.push(l));
    const f = frame(1, 'abc\n');
    feed(f.subarray(0, 9));
    expect(lines).toEqual([]);
    feed(f.subarray(9));
    expect(lines).toEqual(['abc']);
  });

  it('keeps multi-byte characters split between frames whole', () => {
    const lines: string[] = [];
    const feed = logDemuxer((_s, l) => lines.push(l));
    feed(frame(1, 'é€\n'));
    expect(lines).toEqual(['é€']);
  });
});

describe('parseServiceLogLine', () => {
  it.each([
    [
      'details and text',
      '2026-01-01T00:00:00.123Z com.docker.swarm.node.id=n1,com.docker.swarm.task.id=t1 listening on 3000',
      {
        time: '2026-01-01T00:00:00.123Z',
        details: { 'com.docker.swarm.node.id': 'n1', 'com.docker.swarm.task.id': 't1' },
        text: 'listening on 3000',
      },
    ],
    [
      'no details',
      '2026-01-01T00:00:00Z plain text here',
      { time: '2026-01-01T00:00:00Z', details: {}, text: 'plain text here' },
    ],
    [
      'empty text',
      '2026-01-01T00:00:00Z a=b',
      { time: '2026-01-01T00:00:00Z', details: { a: 'b' }, text: '' },
    ],
    [
      'app prints something that looks like details',
      '2026-01-01T00:00:00Z x=1 y=2 z',
      { time: '2026-01-01T00:00:00Z', details: { x: '1' }, text: 'y=2 z' },
    ],
    ['only time', '2026-01-01T00:00:00Z', { time: '2026-01-01T00:00:00Z', details: {}, text: '' }],
  ])('%s', (_n, line, expected) => {
    expect(parseServiceLogLine(line)).toEqual(expected);
  });
});
