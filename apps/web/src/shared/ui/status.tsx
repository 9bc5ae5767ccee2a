// Small building blocks every page uses: progress while waiting, empty states for lists.
import type { ReactNode } from 'react';

/** An accessible busy indicator with a visible label. */
export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <p className="loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      {label}
    </p>
  );
}

/** What an empty list shows: what it would hold and how to add the first item. */
export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children}
    </div>
  );
}
