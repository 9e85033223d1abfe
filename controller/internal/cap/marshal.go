package cap

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Marshal writes the alert as a CAP 1.2 document (without the XML
// declaration, so it can be embedded in an Atom entry).
func Marshal(a *Alert) ([]byte, error) {
	o := outAlert{Xmlns: Namespace, Identifier: a.Identifier, Sender: a.Sender, Sent: FormatTime(a.Sent),
		Status: a.Status, MsgType: a.MsgType, Source: a.Source, Scope: a.Scope, Restriction: a.Restriction,
		Addresses: a.Addresses, Codes: a.Codes, Note: a.Note, Incidents: a.Incidents}
	var refs []string
	for _, r := range a.References {
		refs = append(refs, r.String())
	}
	o.References = strings.Join(refs, " ")
	for _, in := range a.Infos {
		oi := outInfo{Language: in.Language, Categories: in.Categories, Event: in.Event, ResponseType: in.ResponseType,
			Urgency: in.Urgency, Severity: in.Severity, Certainty: in.Certainty, Audience: in.Audience,
			SenderName: in.SenderName, Headline: in.Headline, Description: in.Description, Instruction: in.Instruction,
			Web: in.Web, Contact: in.Contact}
		oi.Effective, oi.Onset, oi.Expires = optFormat(in.Effective), optFormat(in.Onset), optFormat(in.Expires)
		for _, r := range in.Resources {
			or := outResource{Desc: r.Desc, MimeType: r.MimeType, URI: r.URI, Digest: r.Digest}
			if r.Size > 0 {
				or.Size = strconv.FormatInt(r.Size, 10)
			}
			if len(r.Data) > 0 {
				or.DerefURI = base64.StdEncoding.EncodeToString(r.Data)
			}
			oi.Resources = append(oi.Resources, or)
		}
		for _, ar := range in.Areas {
			oa := outArea{Desc: ar.Desc}
			for _, p := range ar.Polygons {
				var pts []string
				for _, pt := range p {
					pts = append(pts, formatPoint(pt))
				}
				oa.Polygons = append(oa.Polygons, strings.Join(pts, " "))
			}
			for _, c := range ar.Circles {
				oa.Circles = append(oa.Circles, formatPoint(c.Center)+" "+strconv.FormatFloat(c.RadiusKM, 'f', -1, 64))
			}
			for _, g := range ar.Geocodes {
				oa.Geocodes = append(oa.Geocodes, outGeocode(g))
			}
			oi.Areas = append(oi.Areas, oa)
		}
		o.Infos = append(o.Infos, oi)
	}
	b, err := xml.Marshal(o)
	if err != nil {
		return nil, fmt.Errorf("cap: marshal %s: %w", a.Identifier, err)
	}
	return b, nil
}

func optFormat(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return FormatTime(t)
}

func formatPoint(p Point) string {
	return strconv.FormatFloat(p.Lat, 'f', -1, 64) + "," + strconv.FormatFloat(p.Lon, 'f', -1, 64)
}

type outAlert struct {
	XMLName     xml.Name  `xml:"alert"`
	Xmlns       string    `xml:"xmlns,attr"`
	Identifier  string    `xml:"identifier"`
	Sender      string    `xml:"sender"`
	Sent        string    `xml:"sent"`
	Status      string    `xml:"status"`
	MsgType     string    `xml:"msgType"`
	Source      string    `xml:"source,omitempty"`
	Scope       string    `xml:"scope"`
	Restriction string    `xml:"restriction,omitempty"`
	Addresses   string    `xml:"addresses,omitempty"`
	Codes       []string  `xml:"code,omitempty"`
	Note        string    `xml:"note,omitempty"`
	References  string    `xml:"references,omitempty"`
	Incidents   string    `xml:"incidents,omitempty"`
	Infos       []outInfo `xml:"info"`
}

type outInfo struct {
	Language     string        `xml:"language"`
	Categories   []string      `xml:"category"`
	Event        string        `xml:"event"`
	ResponseType []string      `xml:"responseType,omitempty"`
	Urgency      string        `xml:"urgency"`
	Severity     string        `xml:"severity"`
	Certainty    string        `xml:"certainty"`
	Audience     string        `xml:"audience,omitempty"`
	Effective    string        `xml:"effective,omitempty"`
	Onset        string        `xml:"onset,omitempty"`
	Expires      string        `xml:"expires,omitempty"`
	SenderName   string        `xml:"senderName,omitempty"`
	Headline     string        `xml:"headline,omitempty"`
	Description  string        `xml:"description,omitempty"`
	Instruction  string        `xml:"instruction,omitempty"`
	Web          string        `xml:"web,omitempty"`
	Contact      string        `xml:"contact,omitempty"`
	Resources    []outResource `xml:"resource,omitempty"`
	Areas        []outArea     `xml:"area,omitempty"`
}

type outResource struct {
	Desc     string `xml:"resourceDesc"`
	MimeType string `xml:"mimeType"`
	Size     string `xml:"size,omitempty"`
	URI      string `xml:"uri,omitempty"`
	DerefURI string `xml:"derefUri,omitempty"`
	Digest   string `xml:"digest,omitempty"`
}

type outArea struct {
	Desc     string       `xml:"areaDesc"`
	Polygons []string     `xml:"polygon,omitempty"`
	Circles  []string     `xml:"circle,omitempty"`
	Geocodes []outGeocode `xml:"geocode,omitempty"`
}

type outGeocode struct {
	ValueName string `xml:"valueName"`
	Value     string `xml:"value"`
}
