/** Hash routing (`#/keys?x=y`): the server only serves `/` and `/assets/*`. */
import { useEffect, useState } from 'preact/hooks';

export type Page = 'signin' | 'keys' | 'collections' | 'query' | 'status' | 'database';
export const PAGES: readonly Page[] = ['signin', 'keys', 'collections', 'query', 'status', 'database'];

export interface Route {
  page: Page | null;
  params: URLSearchParams;
  /** The raw hash, for returning after sign-in. */
  hash: string;
}

export function parseHash(hash: string): Route {
  const text = hash.replace(/^#\/?/, '');
  const [path = '', query = ''] = text.split('?', 2);
  const name = path.split('/')[0] ?? '';
  const page = (PAGES as readonly string[]).includes(name) ? (name as Page) : null;
  return { page, params: new URLSearchParams(query), hash: hash || '#/' };
}

export function href(page: Page, params?: Record<string, string | number | undefined>): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params ?? {})) {
    if (value !== undefined && value !== '') query.set(name, String(value));
  }
  const text = query.toString();
  return `#/${page}${text ? `?${text}` : ''}`;
}

export function navigate(target: string, replace = false): void {
  if (replace) {
    history.replaceState(history.state, '', target);
    window.dispatchEvent(new HashChangeEvent('hashchange'));
  } else if (location.hash !== target) {
    location.hash = target;
  }
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(location.hash));
  useEffect(() => {
    const update = () => setRoute(parseHash(location.hash));
    window.addEventListener('hashchange', update);
    return () => window.removeEventListener('hashchange', update);
  }, []);
  return route;
}
