// Command ocitar copies, inspects and lists container images, speaking skopeo's
// language: every containers/image transport plus oci-tar:, which reads image
// tars in place instead of unpacking them first.
package main
