// Console behaviour without inline scripts (the pages' Content-Security-Policy allows scripts from
// this origin only; bot/web/security.py). A canned-reply chip fills the reply box with its text.
document.addEventListener("click", function (event) {
  var chip = event.target.closest ? event.target.closest("button.chip[data-text]") : null;
  var box = document.getElementById("reply-text");
  if (chip && box) {
    box.value = chip.dataset.text;
    box.focus();
  }
});
