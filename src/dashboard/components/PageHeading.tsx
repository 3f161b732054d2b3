/** A page's `<h1>`, focused when the page opens so keyboard and screen-reader users start there. */
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export function PageHeading({ children }: { children: ComponentChildren }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    // Only move focus when nothing else has it (a page load or a navigation).
    if (document.activeElement === document.body || document.activeElement === null || document.activeElement?.tagName === 'A') {
      ref.current?.focus({ preventScroll: true });
    }
  }, []);
  return <h1 ref={ref} tabIndex={-1} class="page-title">{children}</h1>;
}
