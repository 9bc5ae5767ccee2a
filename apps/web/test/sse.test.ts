import { describe, expect, it } from 'vitest';
import { SseParser, sseJson } from '../src/shared/sse.js';

describe('SseParser', () => {
  it('parses named JSON events the way the API writes them', () => {
    const p = new SseParser();
    const out = p.push(': stream open\n\nevent: log\ndata: {"source":"web.1","text":"hi"}\n\n');
    expect(out).toEqual([{ event: 'log', data: '{"source":"web.1","text":"hi"}' }]);
    expect(sseJson(out[0]!)).toEqual({ source: 'web.1', text: 'hi' });
  });

  it('assembles events split at any byte', () => {
    const text = 'event: state\ndata: {"state":"building"}\n\nevent: log\ndata: {"text":"x"}\n\n';
    for (let cut = 1; cut < text.length; cut++) {
      const p = new SseParser();
      const out = [...p.push(text.slice(0, cut)), ...p.push(text.slice(cut))];
      expect(out.map((m) => m.event)).toEqual(['state', 'log']);
    }
  });

  it.each([
    ['CRLF', 'event: log\r\ndata: a\r\n\r\n'],
    ['CR', 'event: log\rdata: a\r\r: next\n'],
    ['no space after colon', 'event:log\ndata:a\n\n'],
  ])('accepts %s line endings and spacing', (_, text) => {
    expect(new SseParser().push(text)).toEqual([{ event: 'log', data: 'a' }]);
  });

  it('joins multi-line data, ignores comments, unknown fields and events without data', () => {
    const p = new SseParser();
    expect(p.push('data: one\ndata: two\nid: 7\nretry: 10\n: keep-alive\n\nevent: empty\n\n')).toEqual([
      { event: 'message', data: 'one\ntwo' },
    ]);
  });

  it('keeps markup in data as plain text', () => {
    const hostile = '{"text":"<script>alert(1)</script><img src=x onerror=alert(2)>"}';
    const [m] = new SseParser().push(`event: log\ndata: ${hostile}\n\n`);
    expect((sseJson(m!) as { text: string }).text).toBe(
      '<script>alert(1)</script><img src=x onerror=alert(2)>',
    );
  });

  it('answers undefined for data that is not JSON', () => {
    expect(sseJson({ event: 'log', data: '{nope' })).toBeUndefined();
  });
});
