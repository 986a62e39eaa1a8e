import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * SECURITY.md proves each defence by naming a test (`file › describe › test name`, further names in
 * the same file as `› name`). A renamed or deleted test would leave a claim without its proof, so
 * every citation must still name a file that exists and titles that appear in it.
 */

const ROOT = join(__dirname, '..', '..', '..');

export interface Citation {
  file: string;
  titles: string[];
}

/** The citations of a markdown text: backticked `test/… › …` spans, and `› …` spans after them. */
export function citationsOf(markdown: string): Citation[] {
  const citations: Citation[] = [];
  let file: string | undefined;
  for (const [, span] of markdown.matchAll(/`([^`]+)`/g)) {
    const text = span as string;
    if (text.startsWith('› ') && file !== undefined) {
      citations.push({ file, titles: text.slice(2).split(' › ').map((part) => part.trim()) });
      continue;
    }
    const [head, ...titles] = text.split(' › ').map((part) => part.trim());
    if (head !== undefined && /^test\/\S+\.test\.ts$/.test(head)) {
      file = head;
      citations.push({ file, titles });
    }
  }
  return citations;
}

/** A test file's text with string escapes undone, so a title written with \u2019 or \' matches. */
function sourceText(file: string): string {
  return readFileSync(join(ROOT, file), 'utf8')
    .replace(/\\u([0-9a-fA-F]{4})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/\\(['"`])/g, '$1');
}

describe('SECURITY.md citations', () => {
  const citations = citationsOf(readFileSync(join(ROOT, 'SECURITY.md'), 'utf8'));

  it('cites tests', () => {
    expect(citations.length).toBeGreaterThan(50);
  });

  it.each(citations.map((c) => [`${c.file} › ${c.titles.join(' › ')}`, c] as const))('%s exists', (_label, citation) => {
    expect(existsSync(join(ROOT, citation.file))).toBe(true);
    const text = sourceText(citation.file);
    const missing = citation.titles.filter((title) => !text.includes(title));
    expect(missing).toEqual([]);
  });

  it('reads a citation and the bare titles that follow it in the same file', () => {
    const parsed = citationsOf('see `test/a.test.ts › group › one`, `› two`; and `test/b.test.ts`; `plain`');
    expect(parsed).toEqual([
      { file: 'test/a.test.ts', titles: ['group', 'one'] },
      { file: 'test/a.test.ts', titles: ['two'] },
      { file: 'test/b.test.ts', titles: [] },
    ]);
  });
});
