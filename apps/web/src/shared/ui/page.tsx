// The frame of every page: sets the document title and moves keyboard focus to the heading after
// each in-app navigation, so screen-reader and keyboard users land on the new content. The page the
// browser loaded keeps the browser's own focus start (top of the document, skip link first).
import { type ReactNode, useEffect, useRef } from 'react';
import { hasNavigated } from '../router.js';

interface PageProps {
  title: string;
  actions?: ReactNode;
  children: ReactNode;
}

/** A titled page section whose heading receives focus when the page opens. */
export function Page({ title, actions, children }: PageProps) {
  const heading = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${title} · PaaSTech`;
    if (hasNavigated()) heading.current?.focus({ preventScroll: true });
  }, [title]);
  return (
    <section className="page" aria-labelledby="page-title">
      <header className="page-header">
        <h1 id="page-title" ref={heading} tabIndex={-1}>
          {title}
        </h1>
        {actions ? <div className="page-actions">{actions}</div> : null}
      </header>
      {children}
    </section>
  );
}
