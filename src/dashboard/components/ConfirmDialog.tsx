/** "Are you sure?" as an in-page dialog (never `window.confirm`): Cancel has the focus first. */
import type { ComponentChildren } from 'preact';
import { Modal } from './Modal';

interface ConfirmDialogProps {
  title: string;
  confirmLabel: string;
  danger?: boolean;
  busy?: boolean;
  error?: string | null;
  onConfirm: () => void;
  onCancel: () => void;
  children: ComponentChildren;
}

export function ConfirmDialog({ title, confirmLabel, danger = false, busy = false, error, onConfirm, onCancel, children }: ConfirmDialogProps) {
  return (
    <Modal title={title} onClose={onCancel} busy={busy} testId="confirm-dialog">
      <div class="confirm-text">{children}</div>
      {error ? <p class="alert alert-error" role="alert">{error}</p> : null}
      <div class="actions">
        <button type="button" class="button" onClick={onCancel} disabled={busy} autofocus>Cancel</button>
        <button type="button" class={danger ? 'button button-danger' : 'button button-primary'} onClick={onConfirm} disabled={busy}>
          {busy ? 'Working…' : confirmLabel}
        </button>
      </div>
    </Modal>
  );
}
