// Page chrome: skip link, top bar with navigation, and the main landmark.
import type { ReactNode } from 'react';
import { Link } from '../shared/router.js';

/** The top bar and the main content area. */
export function Layout({ children }: { children: ReactNode }) {
  return (
    <>
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <Link className="brand" to="/">
          PaaSTech
        </Link>
        <nav aria-label="Main">
          <ul>
            <li>
              <Link to="/">Projects</Link>
            </li>
          </ul>
        </nav>
      </header>
      <main id="main">{children}</main>
    </>
  );
}
