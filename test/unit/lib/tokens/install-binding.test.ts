import {
  carriesBrowserTag,
  cookiesOf,
  installCookie,
  installCookieName,
  installCookiePolicy,
  isTopLevelNavigation,
} from '../../../../lib/tokens/install-binding';

const TAG = 'T'.repeat(43);
const ID = 'v2.app.nonce.1.b';

describe('install browser binding', () => {
  it.each([
    [{ dest: 'document', mode: 'navigate' }, true],
    [{ dest: 'Document', mode: 'Navigate' }, true],
    [{ dest: 'iframe', mode: 'navigate' }, false],
    [{ dest: 'frame', mode: 'navigate' }, false],
    [{ dest: 'document', mode: 'no-cors' }, false],
    [{ dest: 'document' }, false],
    [{}, false],
  ])('tells a top-level navigation from the rest: %j -> %s', (metadata, expected) => {
    expect(isTopLevelNavigation(metadata)).toBe(expected);
  });

  it('derives the cookie rules from PUBLIC_URL: __Host- and Secure over https, neither over http', () => {
    const secure = installCookie(installCookiePolicy('https://tokens.example.com'), ID, TAG);
    const plain = installCookie(installCookiePolicy('http://localhost:3000'), ID, TAG);

    expect(secure).toMatch(/^__Host-wts-install-[A-Za-z0-9_-]{16}=T{43}; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax; Secure$/);
    expect(plain).toMatch(/^wts-install-[A-Za-z0-9_-]{16}=T{43}; Max-Age=600; Path=\/; HttpOnly; SameSite=Lax$/);
    expect(secure).not.toContain('Domain=');
  });

  it('names each state its own cookie, so two installs in one browser do not evict each other', () => {
    const policy = { secure: true };

    expect(installCookieName(policy, ID)).not.toBe(installCookieName(policy, `${ID}x`));
    expect(installCookieName(policy, ID)).toBe(installCookieName(policy, ID));
  });

  it('finds the tag under its name only, among other cookies, and refuses a wrong or truncated value', () => {
    const name = installCookieName({ secure: true }, ID);

    expect(carriesBrowserTag(['a=b', `${name}=${TAG}`], name, TAG)).toBe(true);
    expect(carriesBrowserTag([`${name}=${'U'.repeat(43)}`], name, TAG)).toBe(false);
    expect(carriesBrowserTag([`${name}=${TAG.slice(1)}`], name, TAG)).toBe(false);
    expect(carriesBrowserTag([`other=${TAG}`], name, TAG)).toBe(false);
    expect(carriesBrowserTag([], name, TAG)).toBe(false);
    expect(carriesBrowserTag([name], name, TAG)).toBe(false);
  });

  it("reads API Gateway's cookies, or a Cookie header when there are none", () => {
    expect(cookiesOf({ cookies: ['a=1', 'b=2'], headers: { cookie: 'c=3' } })).toEqual(['a=1', 'b=2']);
    expect(cookiesOf({ headers: { cookie: 'a=1;  b=2 ;' } })).toEqual(['a=1', 'b=2']);
    expect(cookiesOf({})).toEqual([]);
  });
});
