/**
 * The one time a full key is visible. It lives only in this component's props (memory): never in
 * storage, never in the URL, and gone for good once Done is pressed or the page reloads.
 */
import { useEffect, useRef, useState } from 'preact/hooks';
import { formatDate } from '../format';
import { Modal } from './Modal';
import { PermissionWarnings } from './PermissionWarnings';

interface KeyRevealProps {
  title: string;
  fullKey: string;
  label: string;
  graceUntil?: string | null;
  /** The server's warnings about the new key's permissions (names that do not exist yet). */
  warnings?: readonly string[];
  onDone: () => void;
}

export function KeyReveal({ title, fullKey, label, graceUntil, warnings, onDone }: KeyRevealProps) {
  const codeRef = useRef<HTMLElement>(null);
  const [copyState, setCopyState] = useState<string | null>(null);
  /** Escape or the backdrop was used: ask before the key is gone for good. */
  const [asking, setAsking] = useState(false);
  const keepRef = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (asking) keepRef.current?.focus();
  }, [asking]);

  const selectKey = (): boolean => {
    const code = codeRef.current;
    const selection = window.getSelection();
    if (!code || !selection) return false;
    const range = document.createRange();
    range.selectNodeContents(code);
    selection.removeAllRanges();
    selection.addRange(range);
    return true;
  };

  const copy = async () => {
    try {
      if (!navigator.clipboard?.writeText) throw new Error('no clipboard API');
      await navigator.clipboard.writeText(fullKey);
      setCopyState('Copied to the clipboard.');
      return;
    } catch {
      // Fall back to selecting the text (and the legacy copy command where it still works).
    }
    let copied = false;
    if (selectKey()) {
      try {
        copied = document.execCommand('copy');
      } catch {
        copied = false;
      }
    }
    setCopyState(copied ? 'Copied to the clipboard.' : 'The key is selected: press Ctrl+C (⌘+C on a Mac) to copy it.');
  };

  const done = () => {
    window.getSelection()?.removeAllRanges();
    onDone();
  };

  return (
    <Modal title={title} onClose={done} onDismiss={() => setAsking(true)} testId="key-reveal">
      <p>
        The new key for <strong>{label}</strong>:
      </p>
      <div class="key-box">
        <code ref={codeRef} class="key-value" data-testid="new-key" aria-label="New API key">{fullKey}</code>
        <button type="button" class="button" onClick={() => void copy()} autofocus>Copy</button>
      </div>
      <p class="alert alert-warning" role="note">Store this key now: it will not be shown again.</p>
      {graceUntil ? <p class="muted" data-testid="grace-until">The previous key keeps working until {formatDate(graceUntil)}.</p> : null}
      <p class="copy-state" role="status">{copyState ?? ''}</p>
      <PermissionWarnings warnings={warnings} />
      {asking ? (
        <div class="alert alert-error confirm-close" role="alertdialog" aria-labelledby="reveal-ask" data-testid="reveal-confirm-close">
          <p id="reveal-ask">Close without the key? It will not be shown again: if you have not stored it, regenerate the key later.</p>
          <div class="actions">
            <button type="button" class="button" ref={keepRef} onClick={() => setAsking(false)}>Keep it open</button>
            <button type="button" class="button button-danger" onClick={done}>Close anyway</button>
          </div>
        </div>
      ) : (
        <div class="actions">
          <button type="button" class="button button-primary" onClick={done}>Done</button>
        </div>
      )}
    </Modal>
  );
}
