// The dialogs' bodies: plain DOM forms, read back by getValue().
import { Dialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { INewRequest } from './api';

function field(parent: HTMLElement, label: string, input: HTMLElement, hint = ''): void {
  const row = document.createElement('label');
  row.className = 'sk-field';
  const caption = document.createElement('span');
  caption.className = 'sk-field-label';
  caption.textContent = label;
  row.append(caption, input);
  if (hint) {
    const small = document.createElement('small');
    small.textContent = hint;
    row.append(small);
  }
  parent.append(row);
}

function textarea(name: string, rows = 3): HTMLTextAreaElement {
  const el = document.createElement('textarea');
  el.name = name;
  el.rows = rows;
  el.className = 'jp-mod-styled sk-input';
  return el;
}

function input(name: string, value = ''): HTMLInputElement {
  const el = document.createElement('input');
  el.type = 'text';
  el.name = name;
  el.value = value;
  el.className = 'jp-mod-styled sk-input';
  return el;
}

/** Outputs are the files chosen in the file browser; the researcher describes them. */
export class RequestForm extends Widget implements Dialog.IBodyWidget<INewRequest> {
  constructor(private outputs: string[]) {
    super();
    this.addClass('sk-request-form');
    const list = document.createElement('ul');
    list.className = 'sk-outputs';
    for (const path of outputs) {
      const li = document.createElement('li');
      li.textContent = path;
      list.append(li);
    }
    this.node.append(list);
    field(this.node, 'Title', (this.title_ = input('title')));
    field(this.node, 'Context', (this.context = textarea('context')), 'What the output is and how it was made.');
    field(this.node, 'Controls', (this.controls = textarea('controls')), 'What makes it safe: thresholds, rounding, suppression.');
    field(
      this.node,
      'Supporting files',
      (this.supporting = textarea('supporting', 2)),
      'One path per line, relative to your home folder; for the checkers, never released.'
    );
  }

  getValue(): INewRequest {
    return {
      outputs: this.outputs,
      supporting: this.supporting.value.split('\n').map(s => s.trim()).filter(s => s),
      context: this.context.value,
      controls: this.controls.value,
      title: this.title_.value
    };
  }

  private title_: HTMLInputElement;
  private context: HTMLTextAreaElement;
  private controls: HTMLTextAreaElement;
  private supporting: HTMLTextAreaElement;
}

export interface INewVersion {
  path: string;
  resubmit: boolean;
}

/** A returned file's next version: a file in the home, by default the one under the same name. */
export class VersionForm extends Widget implements Dialog.IBodyWidget<INewVersion> {
  constructor(defaultPath: string) {
    super();
    this.addClass('sk-version-form');
    field(this.node, 'File', (this.path = input('path', defaultPath)), 'Path relative to your home folder.');
    this.resubmit = document.createElement('input');
    this.resubmit.type = 'checkbox';
    this.resubmit.name = 'resubmit';
    this.resubmit.checked = true;
    field(this.node, 'Send the request back to the checkers now', this.resubmit);
  }

  getValue(): INewVersion {
    return { path: this.path.value.trim(), resubmit: this.resubmit.checked };
  }

  private path: HTMLInputElement;
  private resubmit: HTMLInputElement;
}
