// Opened from a file (file://), browsers block the module scripts and workers DenseLab needs,
// so the page would wait forever on "Downloading the model…". This classic script (it still
// runs there) replaces the loading bar with how to serve the folder instead.
(function () {
  if (location.protocol !== 'file:') return;
  var folder = decodeURIComponent(location.pathname.replace(/[^/]*$/, ''));
  if (/^\/[A-Za-z]:\//.test(folder)) folder = folder.slice(1);   // file:///C:/... on Windows
  var page = location.pathname.replace(/^.*\//, '') || 'index.html';
  var commands = [
    { how: 'From the DenseLab project folder:', cmd: './build.sh serve', open: 'http://127.0.0.1:8080/' + page },
    { how: 'Or with any static server, for example Python\u2019s:', cmd: "cd '" + folder.replace(/'/g, "'\\''") + "' && python3 -m http.server 8080", open: 'http://localhost:8080/' + page },
  ];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text) e.textContent = text;
    return e;
  }

  function copyButton(code) {
    var b = el('button', 'small', 'Copy');
    b.type = 'button';
    b.addEventListener('click', function () {
      var done = function () { b.textContent = 'Copied'; };
      var select = function () {
        var range = document.createRange();
        range.selectNodeContents(code);
        getSelection().removeAllRanges();
        getSelection().addRange(range);
        if (document.execCommand && document.execCommand('copy')) done();
        else b.textContent = 'Selected: press Ctrl+C';
      };
      if (navigator.clipboard && navigator.clipboard.writeText) navigator.clipboard.writeText(code.textContent).then(done, select);
      else select();
    });
    return b;
  }

  function show() {
    var bar = document.getElementById('loadbar');
    var status = document.getElementById('status');
    if (status) { status.textContent = 'needs a server'; status.dataset.state = 'error'; }
    var box = el('div', 'file-notice');
    box.setAttribute('role', 'alert');
    box.dataset.testid = 'file-notice';
    box.append(el('p', 'file-notice-lead', 'This page was opened as a file (file://), where browsers block the scripts and workers DenseLab needs. Serve the folder over HTTP instead:'));
    commands.forEach(function (c) {
      var code = el('code', null, c.cmd);
      code.dataset.testid = 'serve-command';
      var row = el('div', 'file-command');
      row.append(el('span', null, c.how), el('pre', null), copyButton(code));
      row.querySelector('pre').append(code);
      box.append(row, el('p', 'file-open', 'then open ' + c.open));
    });
    if (bar) bar.replaceWith(box);
    else document.body.prepend(box);
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', show);
  else show();
}());
