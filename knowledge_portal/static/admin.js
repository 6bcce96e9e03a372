/* GCC Link portal admin: progressive enhancements (no inline script; the CSP allows only 'self').
 *
 * 1. The error summary at the top of a form takes the focus, so a screen reader announces it.
 * 2. A rich-text field (textarea[data-richtext]) gets a small formatting toolbar over an editable
 *    area. The textarea stays in the form and is the value that is posted (the server sanitises it);
 *    the editable area follows the field's direction (right-to-left for Arabic). Without JavaScript
 *    the textarea is used as it is.
 */
(function () {
  "use strict";

  function focusSummary() {
    var summary = document.getElementById("error-summary");
    if (!summary) { return; }
    summary.focus();
    // a link to a rich-text field goes to its editable area (the textarea behind it is hidden)
    summary.addEventListener("click", function (event) {
      var link = event.target.closest("a[href^='#']");
      var area = link && document.getElementById(link.getAttribute("href").slice(1) + "-rte");
      if (area) {
        event.preventDefault();
        area.scrollIntoView();
        area.focus();
      }
    });
  }

  var ar = (document.documentElement.lang || "").indexOf("ar") === 0;
  var LABELS = ar ? {
    bold: "غامق", italic: "مائل", h2: "عنوان", h3: "عنوان فرعي", ul: "قائمة نقطية", ol: "قائمة مرقمة",
    link: "رابط", unlink: "إزالة الرابط", source: "HTML", url: "عنوان الرابط (https://…)", toolbar: "تنسيق النص"
  } : {
    bold: "Bold", italic: "Italic", h2: "Heading", h3: "Subheading", ul: "Bulleted list", ol: "Numbered list",
    link: "Link", unlink: "Remove link", source: "HTML", url: "Link address (https://…)", toolbar: "Text formatting"
  };
  // [name, command, value]; the visible text is short (SHORT), the accessible name is the full label
  var SHORT = ar ? { bold: "غ", italic: "م", h2: "ع٢", h3: "ع٣", ul: "•", ol: "١.", link: "رابط", unlink: "بلا رابط" }
    : { bold: "B", italic: "I", h2: "H2", h3: "H3", ul: "•", ol: "1.", link: "Link", unlink: "Unlink" };
  var BUTTONS = [
    ["bold", "bold"], ["italic", "italic"], ["h2", "formatBlock", "h2"], ["h3", "formatBlock", "h3"],
    ["ul", "insertUnorderedList"], ["ol", "insertOrderedList"], ["link", "createLink"], ["unlink", "unlink"]
  ];

  function enhance(textarea) {
    var dir = textarea.getAttribute("dir") || document.documentElement.dir || "ltr";
    var label = document.querySelector('label[for="' + textarea.id + '"]');
    var wrap = document.createElement("div");
    wrap.className = "rte";
    var bar = document.createElement("div");
    bar.className = "rte-toolbar";
    bar.setAttribute("role", "toolbar");
    bar.setAttribute("aria-label", LABELS.toolbar + (label ? " — " + label.textContent.replace("*", "").trim() : ""));
    bar.setAttribute("aria-controls", textarea.id + "-rte");
    var area = document.createElement("div");
    area.id = textarea.id + "-rte";
    area.className = "rte-area";
    area.contentEditable = textarea.readOnly ? "false" : "true";
    area.setAttribute("role", "textbox");
    area.setAttribute("aria-multiline", "true");
    area.setAttribute("dir", dir);
    area.setAttribute("lang", dir === "rtl" ? "ar" : "en");
    if (label) {
      if (!label.id) { label.id = textarea.id + "-label"; }
      area.setAttribute("aria-labelledby", label.id);
      label.addEventListener("click", function () { area.focus(); });
    }
    var described = textarea.getAttribute("aria-describedby");
    if (described) { area.setAttribute("aria-describedby", described); }
    if (textarea.getAttribute("aria-invalid")) { area.setAttribute("aria-invalid", "true"); }
    function load() {
      // start in a paragraph, so the first line is a <p> like the ones after it
      area.innerHTML = textarea.value.trim() ? textarea.value : "<p><br></p>";
    }
    load();

    function tidy(html) {
      return html
        .replace(/&nbsp;/g, " ")                            // the editor keeps typed spaces as no-break spaces
        .replace(/<br>(<\/(p|li|h2|h3|h4)>)/g, "$1")       // placeholders in non-empty blocks
        .replace(/<(p|h2|h3|h4)>(<br>)?<\/\1>/g, "")        // empty paragraphs and headings
        .trim();
    }
    function sync() { textarea.value = tidy(area.innerHTML); }
    area.addEventListener("input", sync);
    area.addEventListener("blur", sync);

    BUTTONS.forEach(function (spec) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "rte-" + spec[0];
      button.textContent = SHORT[spec[0]];
      button.title = LABELS[spec[0]];
      // the accessible name starts with the visible text (WCAG 2.5.3, "label in name"), then says what it does
      button.setAttribute("aria-label", SHORT[spec[0]] + " — " + LABELS[spec[0]]);
      button.addEventListener("mousedown", function (event) { event.preventDefault(); });  // keep the selection
      button.addEventListener("click", function () {
        area.focus();
        var value = spec[2] || null;
        if (spec[1] === "createLink") {
          value = window.prompt(LABELS.url, "https://");
          if (!value || !/^(https?:|mailto:)/i.test(value)) { return; }
        }
        document.execCommand(spec[1], false, value);
        sync();
      });
      bar.appendChild(button);
    });
    var source = document.createElement("button");
    source.type = "button";
    source.className = "rte-source";
    source.textContent = LABELS.source;
    source.setAttribute("aria-pressed", "false");
    source.addEventListener("click", function () {
      var showing = !textarea.hidden;
      if (showing) { load(); } else { sync(); }
      textarea.hidden = showing;
      area.hidden = !showing;
      source.setAttribute("aria-pressed", showing ? "false" : "true");
    });
    bar.appendChild(source);

    textarea.parentNode.insertBefore(wrap, textarea);
    wrap.appendChild(bar);
    wrap.appendChild(area);
    wrap.appendChild(textarea);
    textarea.hidden = true;
    textarea.form.addEventListener("submit", function () { if (textarea.hidden) { sync(); } });
  }

  function init() {
    focusSummary();
    try {
      document.execCommand("styleWithCSS", false, false);  // <b>/<i>, not style attributes
      document.execCommand("defaultParagraphSeparator", false, "p");
    } catch (e) { /* older engines: defaults are fine */ }
    Array.prototype.forEach.call(document.querySelectorAll("textarea[data-richtext]"), enhance);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
